"""Worker metrics, served on the worker's own /metrics port for Prometheus to scrape."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

JOBS_FINISHED = Counter("estimator_worker_jobs_total", "Estimation jobs run, by outcome", ["outcome"])
JOB_DURATION = Histogram(
    "estimator_worker_job_duration_seconds",
    "Wall time of one estimation attempt",
    buckets=(1, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600, 900),
)

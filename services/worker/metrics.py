"""Worker metrics, served on the worker's own /metrics port for Prometheus to scrape."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

JOBS_FINISHED = Counter("estimator_worker_jobs_total", "Estimation jobs run, by outcome", ["outcome"])
JOB_DURATION = Histogram(
    "estimator_worker_job_duration_seconds",
    "Wall time of one estimation attempt",
    buckets=(1, 5, 10, 20, 30, 60, 90, 120, 180, 300, 600, 900),
)
JOB_QUEUE_WAIT = Histogram(
    "estimator_worker_job_queue_wait_seconds",
    "From a job's submission to its first try starting on a worker",
    buckets=(0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300, 600, 1800),
)

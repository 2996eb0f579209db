"""The worker HPA's signal, end to end: the queue in Redis → the worker's /metrics → a real Prometheus →
the prometheus-adapter rules shipped in `k8s/` → the number the HPA would read.

prometheus-adapter itself cannot run here, so its rules' queries are expanded as the adapter expands
them for the chart's HPA (the HPA's namespace and selector become `<<.LabelMatchers>>`) and evaluated
on the real server.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import yaml

from services.worker.queue_metrics import OLDEST_QUEUED_AGE, QUEUE_JOBS
from tests.prometheus import Prometheus, Target, running_prometheus
from tests.worker.test_queue_semantics import running_stack

ADAPTER_VALUES = Path(__file__).parents[2] / "k8s" / "prometheus-adapter" / "values.yaml"
# What the ServiceMonitor adds to every series of the worker's pods, and what the chart's HPA selects on.
CLUSTER_LABELS = {"namespace": "estimator-test", "service": "estimator-worker"}
MAX_JOBS = 2
JOBS = 6


def adapter_queries() -> dict[str, str]:
    """Each external metric's PromQL, as the adapter sends it for the chart's HPA."""
    rules: list[dict[str, Any]] = yaml.safe_load(ADAPTER_VALUES.read_text())["rules"]["external"]
    matchers = ",".join(f'{name}="{value}"' for name, value in CLUSTER_LABELS.items())
    queries = {}
    for rule in rules:
        series = re.match(r"\w+", rule["seriesQuery"].strip("'"))
        assert series, rule
        query = rule["metricsQuery"].replace("<<.Series>>", series.group()).replace("<<.LabelMatchers>>", matchers)
        queries[rule["name"]["as"]] = query
    return queries


def test_the_adapter_rules_read_only_series_the_worker_exports() -> None:
    exported = {QUEUE_JOBS._name, OLDEST_QUEUED_AGE._name}
    for query in adapter_queries().values():
        assert set(re.findall(r"estimator_\w+", query)) <= exported, query


async def until(check: Callable[[], Awaitable[bool]], what: str, within_s: float = 60) -> None:
    for _ in range(int(within_s * 5)):
        if await check():
            return
        await asyncio.sleep(0.2)
    raise AssertionError(f"never: {what}")


async def test_the_hpa_signal_follows_the_true_queue_and_goes_to_zero_when_it_drains(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    queries = adapter_queries()
    async with running_stack(
        tmp_path, redis_url, database_url, github_stub, WORKER_MAX_JOBS=str(MAX_JOBS), SIM_TOKENS_PER_SECOND="150"
    ) as running:
        worker = Target(f"{running.stack.host}:{running.stack.ports.worker_metrics}", CLUSTER_LABELS)
        async with running_prometheus(tmp_path / "prometheus", [worker]) as prometheus:
            job_ids = [await running.submit(f"Queued {index}") for index in range(JOBS)]

            async def statuses() -> list[str]:
                return [(await running.status(job_id))["status"] for job_id in job_ids]

            async def agrees_with_the_jobs() -> bool:
                """Both signals equal the jobs' own statuses, which did not change while they were read."""
                truth = await statuses()
                if truth.count("running") != MAX_JOBS or "queued" not in truth:
                    return False
                queued = await prometheus.value(queries["estimator_queue_queued_jobs"])
                demand = await prometheus.value(queries["estimator_queue_demand_jobs"])
                expected = (truth.count("queued"), truth.count("queued") + MAX_JOBS)
                return (queued, demand) == expected and await statuses() == truth

            await until(agrees_with_the_jobs, "the adapter's queued and demand jobs equal the jobs' statuses")
            oldest = await prometheus.value(queries["estimator_queue_oldest_job_age_seconds"])

            async def drained() -> bool:
                return await _zero(prometheus, queries) and set(await statuses()) == {"succeeded"}

            await until(drained, "the queue drained and the adapter's metrics read zero", within_s=120)

    assert oldest is not None and oldest > 0


async def _zero(prometheus: Prometheus, queries: dict[str, str]) -> bool:
    values = [await prometheus.value(query) for query in queries.values()]
    return values == [0.0, 0.0, 0.0]

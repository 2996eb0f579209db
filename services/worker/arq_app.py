"""ARQ's wiring of the estimation worker: which function it runs, and how (`estimator worker` runs it).

Built from the worker's settings when the worker starts, not when this module is imported, so
importing it reads no environment.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any

from services.shared.redis import arq_settings
from services.worker.context import WorkerContext
from services.worker.probes import serve_probes
from services.worker.settings import WorkerSettings, get_settings
from services.worker.tasks import run_estimation


async def startup(ctx: dict[str, Any]) -> None:
    settings = get_settings()
    deps = ctx["deps"] = WorkerContext.open(settings)
    if settings.worker_metrics_port:
        ctx["probes"] = serve_probes(deps, settings.worker_metrics_host, settings.worker_metrics_port)


async def shutdown(ctx: dict[str, Any]) -> None:
    probes: asyncio.Task[None] | None = ctx.get("probes")
    if probes is not None:
        probes.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await probes
    deps: WorkerContext | None = ctx.get("deps")
    if deps is not None:
        await deps.close()


def arq_worker(settings: WorkerSettings) -> dict[str, Any]:
    """The keyword arguments of `arq.worker.Worker`."""
    return {
        "functions": [run_estimation],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_settings(settings.redis_url),
        "queue_name": settings.queue_name,
        "max_jobs": settings.worker_max_jobs,
        # One more try than ours, so that run_estimation itself sees the last one and fails the job visibly
        # (ARQ would otherwise drop it without calling us, leaving its status "running" for good).
        "max_tries": settings.worker_max_tries + 1,
        "job_timeout": settings.job_timeout_s,
        "job_completion_wait": settings.worker_drain_s,
        "retry_jobs": True,
        "keep_result": 3600,
        "health_check_interval": 30,
    }

"""ARQ's worker settings: `arq services.worker.arq_app.WorkerSettings` (or `estimator worker`) runs it.

Values come from the one Settings object at import time, so the same environment that configures the
other services configures the worker.
"""

from __future__ import annotations

import asyncio
import contextlib
from typing import Any, ClassVar

from arq.connections import RedisSettings

from services.shared.redis import arq_settings
from services.shared.settings import get_settings
from services.worker.context import WorkerContext
from services.worker.probes import serve_probes
from services.worker.tasks import run_estimation

_settings = get_settings()


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


class WorkerSettings:
    functions: ClassVar[list[Any]] = [run_estimation]
    on_startup = startup
    on_shutdown = shutdown
    redis_settings: RedisSettings = arq_settings(_settings.redis_url)
    queue_name: str = _settings.queue_name
    max_jobs: int = _settings.worker_max_jobs
    # One more try than ours, so that run_estimation itself sees the last one and fails the job visibly
    # (ARQ would otherwise drop it without calling us, leaving its status "running" for good).
    max_tries: int = _settings.worker_max_tries + 1
    job_timeout: int = _settings.job_timeout_s
    job_completion_wait: int = _settings.worker_drain_s
    retry_jobs: bool = True
    keep_result: int = 3600
    health_check_interval: int = 30

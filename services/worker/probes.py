"""The worker's HTTP side: /healthz, /readyz and /metrics, served from the worker's own event loop.

ARQ workers have no HTTP server; Kubernetes probes and Prometheus need one. It runs as a task beside
ARQ and leaves signal handling to ARQ, whose SIGTERM handler drains running jobs.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Iterator

import uvicorn
from fastapi import FastAPI

from services.shared.observability import NATIVE_TELEMETRY_OFF, install_observability
from services.worker.context import WorkerContext
from services.worker.queue_metrics import QueueGauges


class _QuietServer(uvicorn.Server):
    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield


class ShuttingDown(Exception):
    """The worker got SIGTERM: it finishes its jobs and takes no new one."""


def probe_app(context: WorkerContext) -> FastAPI:
    app = FastAPI(
        title="Estimator worker (probes)",
        docs_url=None,
        redoc_url=None,
        openapi_url=None,
        telemetry=NATIVE_TELEMETRY_OFF,
    )

    async def taking_jobs() -> None:
        if context.draining:
            raise ShuttingDown

    async def redis_ready() -> None:
        await context.redis.ping()

    # Not the saves service: a worker keeps a paid result and retries its save through an outage, and
    # a not-ready worker would also drop out of the scrape that feeds the autoscaler.
    checks = {"draining": taking_jobs, "redis": redis_ready}
    queue = QueueGauges(context.redis, context.settings.queue_name)
    install_observability(app, "worker", checks, on_scrape=[queue.export])
    return app


def serve_probes(context: WorkerContext, host: str, port: int) -> asyncio.Task[None]:
    config = uvicorn.Config(
        probe_app(context), host=host, port=port, log_level="warning", log_config=None, lifespan="off"
    )
    return asyncio.create_task(_QuietServer(config).serve(), name="worker-probes")

"""ARQ's wiring of the estimation worker: which function it runs, and how (`estimator worker` runs it).

Built from the worker's settings when the worker starts, not when this module is imported, so
importing it reads no environment.

**Leases.** ARQ marks a job it starts with `arq:in-progress:{job id}`, which it sets to expire after the
job timeout plus 10 s (10 minutes by default); no other worker takes the job while that key exists, so a
worker killed with `kill -9` left its job `running` for 10 minutes. `LeasedWorker` sets that key to expire
after `WORKER_LEASE_S` (60 s) instead and renews it every quarter of that for every job it is running
(draining included), so a job whose worker died is taken by another within about a minute, while a job
that runs for its whole timeout keeps its lease.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from signal import Signals
from typing import Any

from arq.constants import in_progress_key_prefix
from arq.worker import Worker, func
from redis.exceptions import RedisError

from services.shared.gc_tuning import time_collections
from services.shared.loop_lag import measure_loop_lag
from services.shared.redis import arq_settings
from services.shared.tracing import configure_tracing
from services.worker.context import WorkerContext
from services.worker.probes import serve_probes
from services.worker.settings import WorkerSettings, get_settings
from services.worker.tasks import run_estimation

log = logging.getLogger(__name__)
UNLIMITED_TRIES = 1_000_000


class LeasedWorker(Worker):
    """ARQ's worker with a short lease on each running job, renewed while the job runs."""

    def __init__(self, *, lease_s: float, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.lease_s = lease_s
        self.renew_every_s = lease_s / 4
        # What ARQ sets the in-progress key to expire after when it takes a job (`start_jobs`).
        self.in_progress_timeout_s = lease_s

    def handle_sig_wait_for_completion(self, signum: Signals) -> None:
        """SIGTERM: the probes say not ready at once, while running jobs drain (ARQ's handler)."""
        deps: WorkerContext | None = self.ctx.get("deps")
        if deps is not None:
            deps.draining = True
        super().handle_sig_wait_for_completion(signum)

    async def main(self) -> None:
        renewing = asyncio.create_task(self.renew_leases_forever(), name="job-leases")
        try:
            await super().main()
        finally:
            renewing.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await renewing

    async def renew_leases_forever(self) -> None:
        while True:
            await asyncio.sleep(self.renew_every_s)
            try:
                await self.renew_leases()
            except (OSError, RedisError):
                # The next renewal may still come in time; if none does, another worker reruns the job,
                # which yields one save all the same.
                log.warning("could not renew the leases of running jobs", exc_info=True)

    async def renew_leases(self) -> int:
        """Pushes back the expiry of every running job's in-progress key; returns how many were renewed.

        PEXPIRE leaves a missing key missing: a job that ended meanwhile (its key deleted by ARQ) is not
        marked running again."""
        running = [job_id for job_id, task in self.tasks.items() if not task.done()]
        if not running or self._pool is None:
            return 0
        async with self.pool.pipeline(transaction=False) as pipe:
            for job_id in running:
                pipe.pexpire(in_progress_key_prefix + job_id, int(self.lease_s * 1000))
            renewed = await pipe.execute()
        return sum(1 for ok in renewed if ok)


def create_worker(settings: WorkerSettings) -> LeasedWorker:
    return LeasedWorker(lease_s=settings.worker_lease_s, **arq_worker(settings))


async def startup(ctx: dict[str, Any]) -> None:
    configure_tracing("worker")
    settings = get_settings()
    deps = ctx["deps"] = WorkerContext.open(settings)
    if settings.worker_metrics_port:
        ctx["probes"] = serve_probes(deps, settings.worker_metrics_host, settings.worker_metrics_port)
        ctx["loop_lag"] = asyncio.create_task(measure_loop_lag(), name="loop-lag")
        time_collections()


async def shutdown(ctx: dict[str, Any]) -> None:
    for name in ("loop_lag", "probes"):
        task: asyncio.Task[None] | None = ctx.get(name)
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
    deps: WorkerContext | None = ctx.get("deps")
    if deps is not None:
        await deps.close()


def arq_worker(settings: WorkerSettings) -> dict[str, Any]:
    """The keyword arguments of `arq.worker.Worker`."""
    return {
        # Our own limit on tries (run_estimation): ARQ's would also stop the reruns that only save a paid answer.
        "functions": [func(run_estimation, max_tries=UNLIMITED_TRIES)],
        "on_startup": startup,
        "on_shutdown": shutdown,
        "redis_settings": arq_settings(settings.redis_url),
        "queue_name": settings.queue_name,
        "max_jobs": settings.worker_max_jobs,
        "job_timeout": settings.job_timeout_s,
        "job_completion_wait": settings.worker_drain_s,
        "retry_jobs": True,
        "keep_result": 3600,
        "health_check_interval": 30,
    }

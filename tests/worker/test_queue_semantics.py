"""The queue as operators rely on it, with real worker processes: a concurrency cap, crash recovery, drain.

Each test runs its own stack on its own queue, so killing or draining its workers touches nothing else.
The simulator is paced so that a Claude call lasts long enough to overlap others, to be killed in, or
to be drained.
"""

from __future__ import annotations

import asyncio
import signal
import time
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from services.devstack.supervisor import Stack, create_demo_key
from tests.api import bearer, requirements, wait_for_job
from tests.sim_control import stack_control_headers
from tests.stacks import isolated_stack, on_stores

# A running job's lease is WORKER_LEASE_S (60 s), renewed while its worker lives, whatever the job's timeout
# (600 s): a replacement worker reruns a dead worker's job once the lease has run out.
LEASE_S = 60
PICKED_UP_WITHIN_S = 90
# At this pace an estimate's answer streams for a few seconds: long enough to kill or drain a worker in.
SLOW_TOKENS_PER_SECOND = "250"


@dataclass
class Running:
    stack: Stack
    api: httpx.AsyncClient
    simulator: httpx.AsyncClient

    async def submit(self, title: str) -> str:
        response = await self.api.post("/api/estimate", json={"requirements_md": requirements(title, "a", "b")})
        assert response.status_code == 202, response.text
        job_id: str = response.json()["job_id"]
        return job_id

    async def status(self, job_id: str) -> dict[str, Any]:
        status: dict[str, Any] = (await self.api.get(f"/api/estimate/{job_id}/status")).json()
        return status

    async def sim_stats(self) -> dict[str, int]:
        stats: dict[str, int] = (await self.simulator.get("/_sim/stats")).json()
        return stats

    async def until_claude_is_called(self, job_id: str) -> None:
        """The job is in its Claude call: its stage says so and the simulator holds the request."""
        for _ in range(300):
            if (await self.status(job_id))["stage"] == "estimating" and (await self.sim_stats())["in_flight"] == 1:
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"job {job_id} never reached Claude: {await self.status(job_id)}")

    async def until_logged(self, process: str, text: str) -> None:
        assert self.stack.log_dir is not None
        log = self.stack.log_dir / f"{process}.log"
        for _ in range(100):
            if log.exists() and text in log.read_text(errors="replace"):
                return
            await asyncio.sleep(0.05)
        raise AssertionError(f"{process} never logged {text!r}")


@asynccontextmanager
async def running_stack(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str, **env: str
) -> AsyncIterator[Running]:
    """A whole stack with one worker on a queue of its own, stopped (every process) whatever happens."""
    stack = isolated_stack(
        on_stores(redis_url, database_url, tmp_path),
        tmp_path / "logs",
        env={"GITHUB_API_URL": github_stub, "SIM_OUTPUT_TPM": "10000000", "LLM_OUTPUT_TPM": "10000000", **env},
    )
    try:
        await stack.start()
        key = await create_demo_key(stack.env_used, owner=f"queue-{uuid.uuid4().hex[:8]}")
        async with (
            httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(key), timeout=30) as api,
            httpx.AsyncClient(
                base_url=f"http://{stack.host}:{stack.ports.simulator}",
                headers=stack_control_headers(stack),
                timeout=30,
            ) as simulator,
        ):
            yield Running(stack, api, simulator)
    finally:
        stack.stop()


async def test_a_worker_runs_at_most_its_max_jobs_at_once_and_uses_them_all(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    async with running_stack(
        tmp_path, redis_url, database_url, github_stub, WORKER_MAX_JOBS="3", SIM_TOKENS_PER_SECOND="500"
    ) as running:
        job_ids = await asyncio.gather(*(running.submit(f"Burst {i}") for i in range(10)))
        finished = await asyncio.gather(*(wait_for_job(running.api, job_id) for job_id in job_ids))
        stats = await running.sim_stats()

    assert [status["status"] for status in finished] == ["succeeded"] * 10
    assert stats["peak_in_flight"] == 3
    assert stats["requests"] == 10


async def test_a_job_whose_worker_is_killed_finishes_on_another_worker_within_about_a_minute(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    async with running_stack(
        tmp_path, redis_url, database_url, github_stub, SIM_TOKENS_PER_SECOND=SLOW_TOKENS_PER_SECOND
    ) as running:
        job_id = await running.submit("Orphaned")
        await running.until_claude_is_called(job_id)

        running.stack.stop(["worker-0"], signal.SIGKILL)
        killed = time.monotonic()
        running.stack.start_worker("worker-1")
        status = await wait_for_job(running.api, job_id, attempts=PICKED_UP_WITHIN_S * 10)
        recovered_s = time.monotonic() - killed
        saves = (await running.api.get("/api/saves")).json()["items"]
        stats = await running.sim_stats()

    print(f"job of a killed worker succeeded on another {recovered_s:.1f} s after the kill")
    assert status["status"] == "succeeded", status
    assert recovered_s < PICKED_UP_WITHIN_S
    assert [save["save_id"] for save in saves] == [status["save_id"]]
    assert stats["requests"] == 2
    assert status["usage"]["calls"] == 2, "the call cut by the kill was made, and is counted"


async def test_a_job_that_outlives_its_lease_keeps_it_while_its_worker_lives(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    lease_s = 2
    async with running_stack(
        tmp_path, redis_url, database_url, github_stub, WORKER_LEASE_S=str(lease_s), SIM_TOKENS_PER_SECOND="25"
    ) as running:
        running.stack.start_worker("worker-1")  # idle, and looking for jobs whose lease ran out
        started = time.monotonic()
        job_id = await running.submit("Long")
        status = await wait_for_job(running.api, job_id)
        took_s = time.monotonic() - started
        stats = await running.sim_stats()

    assert status["status"] == "succeeded", status
    assert took_s > 3 * lease_s, "the job must outlive its lease several times for this test to mean anything"
    assert stats["requests"] == 1, "the lease was renewed, so no other worker ran the job again"


async def test_sigterm_drains_the_running_job_and_takes_no_new_one(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    async with running_stack(
        tmp_path, redis_url, database_url, github_stub, SIM_TOKENS_PER_SECOND=SLOW_TOKENS_PER_SECOND
    ) as running:
        running_job = await running.submit("Draining")
        await running.until_claude_is_called(running_job)

        running.stack.send_signal("worker-0", signal.SIGTERM)
        await running.until_logged("worker-0", "shutdown on SIGTERM")
        probes = f"http://{running.stack.host}:{running.stack.ports.worker_metrics}"
        readiness = (await running.api.get(f"{probes}/readyz")).status_code
        late_job = await running.submit("Too late")
        drained = await wait_for_job(running.api, running_job)
        exit_code = await running.stack.wait_exit("worker-0", timeout_s=15)
        late_while_no_worker = await running.status(late_job)

        running.stack.start_worker("worker-1")
        late = await wait_for_job(running.api, late_job)

    assert readiness == 503, "a draining worker says it is not ready"
    assert drained["status"] == "succeeded", drained
    assert exit_code == 0
    assert late_while_no_worker["status"] == "queued"
    assert late["status"] == "succeeded", late

"""Nothing paid for is lost: Claude's answer is kept with the job as soon as it arrives, so neither a saves
outage nor a dead worker makes anyone pay for it twice, and the save is written once saves is back.

Real processes (the stack's), real Redis and PostgreSQL, and the simulator counting Claude calls.
"""

from __future__ import annotations

import asyncio
import signal
import time
from pathlib import Path

import redis.asyncio as aioredis

from services.shared.contracts import JobState
from services.shared.jobs import JobStore, result_key
from tests.api import wait_for_job
from tests.worker.test_queue_semantics import SLOW_TOKENS_PER_SECOND, running_stack

LEASE_S = 4
"""A dead worker's job is rerun after its lease (the heartbeat's); short here to keep the test quick."""
AFTER_LEASE_ATTEMPTS = (LEASE_S + 30) * 10

SAVES_OUTAGE_S = 35


async def _job(redis_url: str, job_id: str) -> JobState:
    """The job as the worker wrote it, read from Redis (the gateway's auth may need saves, which is down)."""
    client = aioredis.Redis.from_url(redis_url)
    try:
        job = await JobStore(client, 60).get(job_id)
    finally:
        await client.aclose()
    assert job is not None
    return job


async def _until_stage(redis_url: str, job_id: str, stage: str, timeout_s: float = 30) -> JobState:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        job = await _job(redis_url, job_id)
        if job.stage == stage:
            return job
        await asyncio.sleep(0.05)
    raise AssertionError(f"job {job_id} never reached {stage}: {await _job(redis_url, job_id)}")


async def _has_stored_result(redis_url: str, job_id: str) -> bool:
    client = aioredis.Redis.from_url(redis_url)
    try:
        return bool(await client.exists(result_key(job_id)))
    finally:
        await client.aclose()


async def test_a_saves_outage_after_claude_answered_ends_in_one_save_and_one_claude_call(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    async with running_stack(
        tmp_path, redis_url, database_url, github_stub, SIM_TOKENS_PER_SECOND=SLOW_TOKENS_PER_SECOND
    ) as running:
        job_id = await running.submit("Saves goes away")
        await running.until_claude_is_called(job_id)
        running.stack.stop(["saves"], signal.SIGKILL)
        killed_at = time.monotonic()

        saving = await _until_stage(redis_url, job_id, "saving")
        assert await _has_stored_result(redis_url, job_id)
        await asyncio.sleep(max(0.0, SAVES_OUTAGE_S - (time.monotonic() - killed_at)))
        still = await _job(redis_url, job_id)
        await running.stack.start_service("saves")
        status = await wait_for_job(running.api, job_id)
        saves = (await running.api.get("/api/saves")).json()["items"]
        stats = await running.sim_stats()

    assert saving.usage.calls == 1
    assert (still.status, still.stage) == ("running", "saving"), still
    assert status["status"] == "succeeded", status
    assert [save["save_id"] for save in saves] == [status["save_id"]]
    assert stats["requests"] == 1
    assert status["usage"]["calls"] == 1


async def test_a_worker_killed_after_claude_answered_reuses_the_stored_answer(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    async with running_stack(
        tmp_path,
        redis_url,
        database_url,
        github_stub,
        WORKER_LEASE_S=str(LEASE_S),
        SIM_TOKENS_PER_SECOND=SLOW_TOKENS_PER_SECOND,
    ) as running:
        job_id = await running.submit("Worker dies while saving")
        await running.until_claude_is_called(job_id)
        # Saves down keeps the worker between Claude's answer and the save, where it is killed.
        running.stack.stop(["saves"], signal.SIGKILL)
        await _until_stage(redis_url, job_id, "saving")
        running.stack.stop(["worker-0"], signal.SIGKILL)
        assert await _has_stored_result(redis_url, job_id)

        await running.stack.start_service("saves")
        running.stack.start_worker("worker-1")
        status = await wait_for_job(running.api, job_id, attempts=AFTER_LEASE_ATTEMPTS)
        saves = (await running.api.get("/api/saves")).json()["items"]
        stats = await running.sim_stats()

    assert status["status"] == "succeeded", status
    assert [save["save_id"] for save in saves] == [status["save_id"]]
    assert stats["requests"] == 1
    assert status["usage"]["calls"] == 1

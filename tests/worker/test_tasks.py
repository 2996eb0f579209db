"""`run_estimation` itself: failures the user must understand, retries that must happen, one save per job.

The task runs in-process with the real SDK against an in-process simulator (so faults injected here
touch no other test), the real Redis, and the running stack's saves service.
"""

from __future__ import annotations

import asyncio
import math
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import anthropic
import httpx
import httpx2
import pytest
from arq import Retry
from prometheus_client import REGISTRY

from services.devstack.supervisor import Stack
from services.shared.contracts import JobInput
from services.shared.saves_client import SavesClient
from services.simulator.app import create_app
from services.simulator.config import SimulatorConfig
from services.worker.claude_estimate import estimate_initial_tokens
from services.worker.context import WorkerContext
from services.worker.github import make_github_client
from services.worker.settings import WorkerSettings
from services.worker.tasks import run_estimation
from tests.api import requirements
from tests.github_stub import free_port
from tests.sim_control import SIM_CONTROL_HEADERS, SIM_CONTROL_TOKEN

SIM = "http://sim"


@pytest.fixture
async def worker(stack: Stack) -> AsyncIterator[tuple[WorkerContext, httpx2.AsyncClient]]:
    env = stack.env_used
    settings = WorkerSettings(
        redis_url=env["REDIS_URL"],
        saves_url=env["SAVES_URL"],
        internal_token=env["INTERNAL_TOKEN"],
        github_api_url=env["GITHUB_API_URL"],
        anthropic_api_key="sk-test",
        llm_budget_prefix=f"test:tasks:{uuid.uuid4().hex[:8]}",
    )
    sim_http = httpx2.AsyncClient(
        transport=httpx2.ASGITransport(
            app=create_app(
                SimulatorConfig(tokens_per_second=1e9, first_token_latency_s=0, control_token=SIM_CONTROL_TOKEN)
            )
        ),
        base_url=SIM,
        headers=SIM_CONTROL_HEADERS,
    )
    context = WorkerContext.open(settings)
    context.claude = anthropic.AsyncAnthropic(api_key="sk-test", base_url=SIM, max_retries=0, http_client=sim_http)
    try:
        yield context, sim_http
    finally:
        await context.close()


async def _job(context: WorkerContext, title: str) -> str:
    job, _ = await context.store.create("alice", JobInput(requirements_md=requirements(title, "feature")))
    return job.job_id


async def _inject(sim: httpx2.AsyncClient, **fault: Any) -> None:
    (await sim.post("/_sim/faults", json=fault)).raise_for_status()


async def test_a_spend_limit_fails_the_job_cleanly_without_retrying(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    context, sim = worker
    job_id = await _job(context, "Spend limit")
    await _inject(sim, kind="spend_limit", count=1)
    assert await run_estimation({"deps": context, "job_try": 1}, job_id) == "failed"
    job = await context.store.get(job_id)
    assert job is not None and job.status == "failed"
    assert job.error is not None and job.error.code == "claude_spend_limit"
    assert (await sim.get("/_sim/stats")).json()["requests"] == 1


async def test_an_overloaded_error_mid_stream_is_retried(worker: tuple[WorkerContext, httpx2.AsyncClient]) -> None:
    context, sim = worker
    job_id = await _job(context, "Mid-stream")
    await _inject(sim, kind="overloaded_mid_stream", count=1)
    assert await run_estimation({"deps": context, "job_try": 1}, job_id) == "succeeded"
    job = await context.store.get(job_id)
    assert job is not None and job.status == "succeeded" and job.save_id


async def test_running_the_same_job_twice_yields_one_save(
    worker: tuple[WorkerContext, httpx2.AsyncClient], stack: Stack, api_key: str
) -> None:
    context, _ = worker
    job_id = await _job(context, "Twice")
    assert await run_estimation({"deps": context, "job_try": 1}, job_id) == "succeeded"
    first = await context.store.get(job_id)
    assert first is not None
    await context.store.update(job_id, status="running")
    assert await run_estimation({"deps": context, "job_try": 2}, job_id) == "succeeded"
    second = await context.store.get(job_id)
    assert second is not None and second.save_id == first.save_id
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers={"Authorization": f"Bearer {api_key}"}) as c:
        listed = (await c.get("/api/saves", params={"limit": 100})).json()["items"]
    assert [s["save_id"] for s in listed].count(first.save_id) == 1


async def test_an_expired_job_is_skipped(worker: tuple[WorkerContext, httpx2.AsyncClient]) -> None:
    context, _ = worker
    assert await run_estimation({"deps": context, "job_try": 1}, "no-such-job") == "expired"


async def test_an_overloaded_529_pauses_the_fleet_then_the_job_succeeds(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    context, sim = worker
    job_id = await _job(context, "Overloaded")
    await _inject(sim, kind="overloaded", count=1, retry_after=1)
    assert await run_estimation({"deps": context, "job_try": 1}, job_id) == "succeeded"
    stats = (await sim.get("/_sim/stats")).json()
    assert (stats["overloaded"], stats["requests"]) == (1, 2)


async def test_a_rate_limited_429_with_retry_after_is_retried(worker: tuple[WorkerContext, httpx2.AsyncClient]) -> None:
    context, sim = worker
    job_id = await _job(context, "Throttled")
    await _inject(sim, kind="rate_limited", count=1, retry_after=1)
    assert await run_estimation({"deps": context, "job_try": 1}, job_id) == "succeeded"
    assert (await sim.get("/_sim/stats")).json()["rate_limited"] == 1


async def test_a_job_interrupted_too_often_fails_visibly(worker: tuple[WorkerContext, httpx2.AsyncClient]) -> None:
    context, _ = worker
    job_id = await _job(context, "Interrupted")
    for _ in range(context.settings.worker_max_tries):
        await context.store.count_try(job_id)  # as tries cut by dead workers did, before Claude answered
    assert await run_estimation({"deps": context, "job_try": 9}, job_id) == "failed"
    job = await context.store.get(job_id)
    assert job is not None and job.error is not None and job.error.code == "too_many_attempts"


async def test_an_unreachable_github_hands_the_job_back_then_fails_on_the_last_try(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    context, _ = worker
    await context.github.aclose()
    context.github = make_github_client(WorkerSettings(github_api_url=f"http://127.0.0.1:{free_port()}"))
    job, _ = await context.store.create(
        "alice", JobInput(requirements_md="# Repo work", github_url="https://github.com/octo/shop")
    )
    for job_try in range(1, context.settings.worker_max_tries):
        with pytest.raises(Retry):
            await run_estimation({"deps": context, "job_try": job_try}, job.job_id)
        handed_back = await context.store.get(job.job_id)
        assert handed_back is not None and (handed_back.status, handed_back.stage) == ("queued", "retrying")
    last = context.settings.worker_max_tries
    assert await run_estimation({"deps": context, "job_try": last}, job.job_id) == "failed"
    failed = await context.store.get(job.job_id)
    assert failed is not None and failed.error is not None and failed.error.code == "github_unavailable"


@asynccontextmanager
async def saves_unreachable(context: WorkerContext) -> AsyncIterator[None]:
    """The worker's saves service is down (nothing listens), and a try gives up on it after 4.5 s."""
    saves, settings = context.saves, context.settings
    context.settings = settings.model_copy(update={"job_timeout_s": 5})
    context.saves = SavesClient(context.settings.model_copy(update={"saves_url": f"http://127.0.0.1:{free_port()}"}))
    try:
        yield
    finally:
        await context.saves.aclose()
        context.saves, context.settings = saves, settings


async def test_a_job_retried_after_its_save_failed_reuses_claudes_stored_answer(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    context, sim = worker
    job_id = await _job(context, "Saves unreachable")
    async with saves_unreachable(context):
        with pytest.raises(Retry):
            await run_estimation({"deps": context, "job_try": 1}, job_id)
    kept = await context.store.paid_result(job_id)
    assert kept is not None and kept.usage.calls == 1
    assert await run_estimation({"deps": context, "job_try": 2}, job_id) == "succeeded"
    job = await context.store.get(job_id)
    assert job is not None and job.save_id and job.usage.calls == 1
    assert (await sim.get("/_sim/stats")).json()["requests"] == 1


async def test_a_save_that_saves_rejects_as_unstorable_fails_the_job_without_a_retry(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    context, sim = worker
    # Built past validation, as if it had got by the gateway: PostgreSQL cannot store a NUL character.
    job_input = JobInput.model_construct(
        requirements_md=requirements("Nul", "feature") + "\x00", name=None, github_url=None
    )
    job, _ = await context.store.create("alice", job_input)
    assert await run_estimation({"deps": context, "job_try": 1}, job.job_id) == "failed"
    failed = await context.store.get(job.job_id)
    assert failed is not None and failed.error is not None and failed.error.code == "unstorable_content"
    assert failed.usage.calls == 1
    assert (await sim.get("/_sim/stats")).json()["requests"] == 1


async def test_a_paid_job_keeps_retrying_its_save_past_the_tries_limit_without_calling_claude_again(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    """Saves down for longer than every try's deadline put together: the paid answer waits for it."""
    context, sim = worker
    job_id = await _job(context, "Saves down for long")
    deferrals = []
    async with saves_unreachable(context):
        for job_try in range(1, context.settings.worker_max_tries + 3):
            with pytest.raises(Retry) as retry:
                await run_estimation({"deps": context, "job_try": job_try}, job_id)
            deferrals.append(retry.value.defer_score or 0)
    assert await run_estimation({"deps": context, "job_try": 99}, job_id) == "succeeded"
    job = await context.store.get(job_id)
    assert job is not None and job.save_id and job.usage.calls == 1
    assert (await sim.get("/_sim/stats")).json()["requests"] == 1
    assert deferrals == sorted(deferrals), "each rerun waits a little longer for saves"


async def test_a_job_says_when_a_worker_first_took_it(worker: tuple[WorkerContext, httpx2.AsyncClient]) -> None:
    context, _ = worker
    job_id = await _job(context, "Started")
    queued = await context.store.get(job_id)
    assert queued is not None and queued.started_at is None
    assert await run_estimation({"deps": context, "job_try": 1}, job_id) == "succeeded"
    done = await context.store.get(job_id)
    assert done is not None and done.started_at is not None
    assert queued.created_at <= done.started_at <= done.updated_at


async def test_a_fresh_fleets_estimation_cut_at_its_initial_allowance_is_asked_again_whole(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    """Nothing measured yet (a fresh budget prefix): the call reserves ESTIMATE_INITIAL_TOKENS, not the
    ceiling; an estimate longer than that is asked again with ESTIMATE_MAX_TOKENS, and both calls count."""
    context, sim = worker
    context.settings.estimate_initial_tokens = 256
    context.allowance.floor = 256
    job_id = await _job(context, "Longer than its allowance")
    assert await run_estimation({"deps": context, "job_try": 1}, job_id) == "succeeded"
    job = await context.store.get(job_id)
    assert job is not None and job.status == "succeeded" and job.save_id
    assert (await sim.get("/_sim/stats")).json()["requests"] == 2, "cut once at 256 tokens, then whole"
    assert await context.allowance.tokens("estimate", 256) > 256, "what it really used is learned"


def _reserved_for_estimations() -> float:
    return REGISTRY.get_sample_value("estimator_llm_output_reserved_tokens_total", {"priority": "estimate"}) or 0.0


async def test_a_fresh_fleets_burst_of_estimations_reserves_the_guess_only_for_its_probes(
    worker: tuple[WorkerContext, httpx2.AsyncClient],
) -> None:
    """Six estimations at once on a fleet that has measured none: ESTIMATE_PROBE_CALLS (2 here) reserve
    ESTIMATE_INITIAL_TOKENS, the other four wait (their jobs saying so) for what those used and reserve half
    as much again (or the floor, ESTIMATE_MIN_TOKENS)."""
    context, _ = worker
    context.settings.estimate_probe_calls = 2
    guess = estimate_initial_tokens(context.settings)
    job_ids = [await _job(context, f"Burst {n}") for n in range(6)]
    before = _reserved_for_estimations()
    stages: set[str] = set()

    async def watch() -> None:
        while True:
            stages.update(job.stage for job in [await context.store.get(job_id) for job_id in job_ids] if job)
            await asyncio.sleep(0.02)

    watching = asyncio.create_task(watch())
    outcomes = await asyncio.gather(*(run_estimation({"deps": context, "job_try": 1}, job_id) for job_id in job_ids))
    watching.cancel()
    await asyncio.gather(watching, return_exceptions=True)

    assert outcomes == ["succeeded"] * 6
    assert "waiting_for_capacity" in stages, "a job waiting for the probes says so"
    jobs = [await context.store.get(job_id) for job_id in job_ids]
    largest = max(job.usage.output_tokens for job in jobs if job is not None)
    reserved = _reserved_for_estimations() - before
    assert largest * 6 < reserved <= 2 * guess + 4 * max(context.allowance.floor, math.ceil(largest * 1.5))
    assert reserved < 6 * guess * 0.8, "without probes, every one of them reserved the guess"

"""Three worker processes and a chat service share one budget against a simulator with small limits.

With a full queue, the fleet never asks the simulator for more than its limits (so it answers no 429),
and chat, which has a reserved share, is answered while estimations wait for capacity.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.devstack.supervisor import Stack, create_demo_key
from tests.api import bearer, estimate, requirements, wait_for_job
from tests.sim_control import stack_control_headers
from tests.stacks import isolated_stack, on_stores

LIMITS = {"rpm": "60", "input_tpm": "200000", "output_tpm": "6000"}


@pytest.fixture
async def tight_fleet(redis_url: str, database_url: str, tmp_path: Path) -> AsyncIterator[Stack]:
    stack = isolated_stack(
        on_stores(redis_url, database_url, tmp_path),
        tmp_path,
        workers=3,
        env={
            **{f"SIM_{k.upper()}": v for k, v in LIMITS.items()},
            **{f"LLM_{k.upper()}": v for k, v in LIMITS.items()},
            "LLM_CHAT_RESERVE": "0.35",
            "ESTIMATE_MAX_TOKENS": "1500",
            "CHAT_MAX_TOKENS": "400",
            "WORKER_MAX_JOBS": "4",
            "SIM_TOKENS_PER_SECOND": "600",
        },
    )
    await stack.start()
    try:
        yield stack
    finally:
        stack.stop()


async def test_a_full_queue_causes_no_upstream_429_and_chat_is_still_answered(tight_fleet: Stack) -> None:
    key = await create_demo_key(tight_fleet.env_used, owner="fleet")
    async with httpx.AsyncClient(base_url=tight_fleet.gateway_url, headers=bearer(key), timeout=60) as client:
        first = await estimate(client, {"requirements_md": requirements("Warm-up", "one feature")})
        assert first["status"] == "succeeded"
        submitted = [
            await client.post("/api/estimate", json={"requirements_md": requirements(f"Queued {i}", "a", "b")})
            for i in range(8)
        ]
        job_ids = [r.json()["job_id"] for r in submitted]
        chat = await client.post(
            f"/api/estimate/{first['job_id']}/chat", json={"message": "What are the main risks?"}, timeout=60
        )
        assert chat.status_code == 200, chat.text
        pending = [(await client.get(f"/api/estimate/{j}/status")).json()["status"] for j in job_ids]
        assert any(status != "succeeded" for status in pending), "chat was only answered after the queue drained"
        finished = await asyncio.gather(*(wait_for_job(client, j, attempts=1200) for j in job_ids))
    assert [s["status"] for s in finished] == ["succeeded"] * len(job_ids)
    simulator = f"http://127.0.0.1:{tight_fleet.ports.simulator}"
    async with httpx.AsyncClient(base_url=simulator, headers=stack_control_headers(tight_fleet)) as sim:
        stats = (await sim.get("/_sim/stats")).json()
    assert stats["rate_limited"] == 0
    assert stats["requests"] == len(job_ids) + 2, "every call was admitted first time: nothing was retried"

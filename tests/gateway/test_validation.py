"""Bad requests get the documented error envelope and leave nothing half-stored."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from services.devstack.supervisor import Stack

JOB_KEYS = "estimator:job:*"


async def _job_count(redis_client: aioredis.Redis) -> int:
    return len([k async for k in redis_client.scan_iter(JOB_KEYS, count=1000)])


@pytest.mark.parametrize(
    ("body", "code"),
    [
        ({}, "validation_error"),
        ({"requirements_md": ""}, "validation_error"),
        ({"requirements_md": "x" * 200_001}, "validation_error"),
        ({"requirements_md": "# ok", "github_url": "https://gitlab.com/a/b"}, "validation_error"),
        ({"requirements_md": "# ok", "github_url": "http://github.com/a/b"}, "validation_error"),
        ({"requirements_md": "# ok", "github_url": "https://github.com/a/b/c"}, "validation_error"),
        ({"requirements_md": "# ok", "name": "n" * 201}, "validation_error"),
        ({"requirements_md": "# ok", "unexpected": 1}, "validation_error"),
    ],
)
async def test_invalid_submissions_are_refused_with_422_and_create_no_job(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, body: dict[str, object], code: str
) -> None:
    before = await _job_count(redis_client)
    response = await client.post("/api/estimate", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"]["code"] == code
    assert response.json()["error"]["message"]
    assert await _job_count(redis_client) == before


async def test_malformed_json_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/estimate", content=b"{not json", headers={"Content-Type": "application/json"})
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_oversized_body_is_a_413_before_parsing(client: httpx.AsyncClient, redis_client: aioredis.Redis) -> None:
    before = await _job_count(redis_client)
    response = await client.post("/api/estimate", json={"requirements_md": "x" * 3_000_000})
    assert response.status_code == 413
    assert response.json()["error"]["code"] == "payload_too_large"
    assert await _job_count(redis_client) == before


async def test_oversized_chunked_body_is_a_413(client: httpx.AsyncClient) -> None:
    async def chunks() -> AsyncIterator[bytes]:
        for _ in range(40):
            yield b"x" * 100_000

    response = await client.post("/api/estimate", content=chunks(), headers={"Content-Type": "application/json"})
    assert response.status_code == 413


@pytest.mark.parametrize(
    "path",
    [
        "/api/estimate/nope/status",
        "/api/estimate/nope/events",
        "/api/estimate/nope/chat",
        "/api/saves/nope",
        "/api/saves/..",
        "/api/saves/%2E%2E",
        "/api/estimate/..%2F..%2Fkeys/chat",
    ],
)
async def test_unknown_ids_are_404(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


@pytest.mark.parametrize("limit", [0, 101, -1])
async def test_saves_limit_is_bounded(client: httpx.AsyncClient, limit: int) -> None:
    assert (await client.get("/api/saves", params={"limit": limit})).status_code == 422


async def test_garbage_cursor_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/saves", params={"cursor": "%%%garbage"})
    assert response.status_code == 422


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/api/estimate"),
        ("GET", "/api/estimate/x/status"),
        ("GET", "/api/estimate/x/events"),
        ("POST", "/api/estimate/x/chat"),
        ("GET", "/api/estimate/x/chat"),
        ("GET", "/api/saves"),
        ("GET", "/api/saves/x"),
        ("PATCH", "/api/saves/x"),
        ("DELETE", "/api/saves/x"),
    ],
)
@pytest.mark.parametrize("auth", [None, "Bearer est_not-a-real-key", "Basic abc"])
async def test_every_api_route_needs_a_valid_key(stack: Stack, method: str, path: str, auth: str | None) -> None:
    headers = {"Authorization": auth} if auth else {}
    async with httpx.AsyncClient(base_url=stack.gateway_url) as anonymous:
        response = await anonymous.request(method, path, headers=headers, json={"message": "hi", "name": "x"})
    assert response.status_code == 401
    assert response.json()["error"]["code"] == "unauthorized"

"""Bad requests get the documented error envelope and leave nothing half-stored."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator

import httpx
import pytest
import redis.asyncio as aioredis

from services.devstack.supervisor import Stack
from services.shared.contracts import MAX_CURSOR
from tests.api import estimate, requirements

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


UNSTORABLE = [
    ("\x00", "contains a NUL character"),
    ("\ud800", "contains a lone surrogate (U+D800), which is not text"),
    ("\udfff", "contains a lone surrogate (U+DFFF), which is not text"),
]
"""Texts PostgreSQL cannot store: NUL, and a lone surrogate (which JSON carries as the escape \\ud800)."""


def _raw_json(body: dict[str, object]) -> bytes:
    """JSON with lone surrogates kept as escapes, as a client would send them (httpx would refuse to encode them)."""
    return json.dumps(body).encode()


@pytest.mark.parametrize(("bad", "message"), UNSTORABLE)
@pytest.mark.parametrize("field", ["requirements_md", "name", "github_url"])
async def test_unstorable_text_in_a_submission_is_a_422_naming_the_field_and_creates_no_job(
    client: httpx.AsyncClient, redis_client: aioredis.Redis, field: str, bad: str, message: str
) -> None:
    body: dict[str, object] = {"requirements_md": "# Shop\n- checkout", "name": "Shop"}
    body[field] = ("https://github.com/octo/shop" if field == "github_url" else str(body[field])) + bad
    before = await _job_count(redis_client)
    response = await client.post("/api/estimate", content=_raw_json(body), headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    error = response.json()["error"]
    assert error["code"] == "validation_error"
    assert error["message"].startswith(f"{field}: ")
    if field != "github_url":  # a URL with a NUL is first of all not a GitHub URL
        assert error["message"] == f"{field}: {message}"
    assert await _job_count(redis_client) == before  # no job, so no Claude call is ever made for it


@pytest.fixture
async def finished(client: httpx.AsyncClient) -> dict[str, str]:
    status = await estimate(client, {"requirements_md": requirements("Validated", "login")})
    assert status["status"] == "succeeded"
    return status


@pytest.mark.parametrize(("bad", "message"), UNSTORABLE)
async def test_unstorable_chat_message_is_a_422_and_reaches_neither_chat_nor_claude(
    client: httpx.AsyncClient, finished: dict[str, str], bad: str, message: str
) -> None:
    chat = f"/api/estimate/{finished['job_id']}/chat"
    response = await client.post(
        chat, content=_raw_json({"message": f"Why{bad}?"}), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {"code": "validation_error", "message": f"message: {message}"}
    assert (await client.get(chat)).json()["messages"] == []  # no turn was run, so Claude was never asked


@pytest.mark.parametrize(("bad", "message"), UNSTORABLE)
async def test_unstorable_save_name_is_a_422_and_leaves_the_name(
    client: httpx.AsyncClient, finished: dict[str, str], bad: str, message: str
) -> None:
    path = f"/api/saves/{finished['save_id']}"
    before = (await client.get(path)).json()["name"]
    response = await client.patch(
        path, content=_raw_json({"name": f"Renamed{bad}"}), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422, response.text
    assert response.json()["error"] == {"code": "validation_error", "message": f"name: {message}"}
    assert (await client.get(path)).json()["name"] == before


@pytest.mark.parametrize(
    "url",
    [
        "",
        "https://github.com/octo/shop\n",
        "https://github.com/octo/shop/\n",
        "https://github.com/octo/shop\r\n",
        "https://github.com/octo/..",
        "https://github.com/octo/.",
        " https://github.com/octo/shop",
    ],
)
async def test_github_url_must_be_exactly_a_repository_url(client: httpx.AsyncClient, url: str) -> None:
    response = await client.post("/api/estimate", json={"requirements_md": "# ok", "github_url": url})
    assert response.status_code == 422, response.text
    assert response.json()["error"]["message"].startswith("github_url: ")


NEWLINE_ID = "00000000-0000-0000-0000-000000000000%0A"


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", f"/api/estimate/{NEWLINE_ID}/status"),
        ("GET", f"/api/estimate/{NEWLINE_ID}/events"),
        ("GET", f"/api/estimate/{NEWLINE_ID}/chat"),
        ("POST", f"/api/estimate/{NEWLINE_ID}/chat"),
        ("GET", f"/api/estimate/{NEWLINE_ID}/chat/turns/{'0' * 32}"),
        ("GET", f"/api/estimate/00000000-0000-0000-0000-000000000000/chat/turns/{'0' * 32}%0A"),
        ("GET", f"/api/saves/{NEWLINE_ID}"),
        ("PATCH", f"/api/saves/{NEWLINE_ID}"),
        ("DELETE", f"/api/saves/{NEWLINE_ID}"),
        ("GET", f"/api/saves/{NEWLINE_ID}/revisions"),
        ("GET", f"/api/saves/{NEWLINE_ID}/revisions/1"),
        ("GET", "/api/saves/00000000-0000-0000-0000-000000000000/revisions/1%0A"),
        ("GET", f"/api/saves/{NEWLINE_ID}/revisions/2/diff"),
        ("GET", "/api/methodology/abc%0A"),
    ],
)
async def test_an_id_ending_in_a_newline_is_a_404(client: httpx.AsyncClient, method: str, path: str) -> None:
    body = {"POST": {"message": "hi"}, "PATCH": {"name": "x"}}.get(method)
    response = await client.request(method, path, json=body)
    assert response.status_code == 404, response.text
    assert response.json()["error"]["code"] == "not_found"


async def test_an_id_of_a_real_save_ending_in_a_newline_is_a_404(
    client: httpx.AsyncClient, finished: dict[str, str]
) -> None:
    for method in ("GET", "PATCH", "DELETE"):
        response = await client.request(method, f"/api/saves/{finished['save_id']}%0A", json={"name": "x"})
        assert response.status_code == 404, (method, response.text)
    assert (await client.get(f"/api/saves/{finished['save_id']}")).status_code == 200


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("PUT", "/api/saves/00000000-0000-0000-0000-000000000000", "DELETE, GET, PATCH"),
        ("POST", "/api/saves/00000000-0000-0000-0000-000000000000", "DELETE, GET, PATCH"),
        ("POST", "/api/saves", "GET"),
        ("GET", "/api/estimate", "POST"),
        ("DELETE", "/api/estimate/x/chat", "GET, POST"),
        ("POST", "/api/estimate/x/status", "GET"),
    ],
)
async def test_405_lists_every_method_of_the_path(
    client: httpx.AsyncClient, method: str, path: str, allowed: str
) -> None:
    response = await client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["error"]["code"] == "method_not_allowed"


@pytest.mark.parametrize("body", [b'{"requirements_md": "caf\xe9"}', b"\x80"])
async def test_a_body_that_is_not_utf8_json_is_a_documented_400(client: httpx.AsyncClient, body: bytes) -> None:
    response = await client.post("/api/estimate", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "bad_request"


async def test_a_body_sent_as_another_content_type_is_a_422(client: httpx.AsyncClient) -> None:
    response = await client.post(
        "/api/estimate", content=b'{"requirements_md": "# ok"}', headers={"Content-Type": "text/plain"}
    )
    assert response.status_code == 422
    assert response.json()["error"]["code"] == "validation_error"


async def test_the_cursor_limit_is_the_one_the_schema_states(client: httpx.AsyncClient) -> None:
    doc = (await client.get("/openapi.json")).json()
    for path in ("/api/saves", "/api/saves/{save_id}/revisions"):
        (cursor,) = [p for p in doc["paths"][path]["get"]["parameters"] if p["name"] == "cursor"]
        assert {"type": "string", "maxLength": MAX_CURSOR} in cursor["schema"]["anyOf"]
    too_long = await client.get("/api/saves", params={"cursor": "A" * (MAX_CURSOR + 1)})
    assert too_long.status_code == 422 and too_long.json()["error"]["code"] == "validation_error"
    longest = await client.get("/api/saves", params={"cursor": "A" * MAX_CURSOR})
    assert longest.status_code == 422 and longest.json()["error"]["code"] == "invalid_cursor"

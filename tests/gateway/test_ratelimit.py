"""Request limits: per client IP and per API key, with Retry-After and RateLimit-* headers.

A gateway is run in-process with tight limits, talking to the running stack's saves service and to
the real Redis, so what is counted is exactly what a deployed replica counts.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager

import httpx
import pytest

from services.devstack.supervisor import Stack
from tests.api import bearer, requirements
from tests.stacks import in_process_gateway

Gateway = Callable[[str], AbstractAsyncContextManager[httpx.AsyncClient]]


@pytest.fixture
def gateway(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> Gateway:
    env = {
        name: stack.env_used[name] for name in ("REDIS_URL", "SAVES_URL", "CHAT_URL", "INTERNAL_TOKEN", "QUEUE_NAME")
    }
    env |= {"ESTIMATE_RATE_LIMIT": "2/minute", "TRUSTED_PROXIES": '["127.0.0.1/32"]'}
    return lambda peer: in_process_gateway(monkeypatch, env, peer)


def _body() -> dict[str, str]:
    return {"requirements_md": requirements(f"Limited {uuid.uuid4().hex}", "x")}


async def test_the_third_estimate_in_a_minute_from_one_ip_is_refused(
    gateway: Gateway, api_key: str, other_key: str
) -> None:
    ip = f"10.{uuid.uuid4().int % 250}.0.1"
    async with gateway(ip) as client:
        first = await client.post("/api/estimate", json=_body(), headers=bearer(api_key))
        second = await client.post("/api/estimate", json=_body(), headers=bearer(other_key))
        third = await client.post("/api/estimate", json=_body(), headers=bearer(other_key))
    assert first.status_code == second.status_code == 202
    assert first.headers["RateLimit-Limit"] == "2"
    assert third.status_code == 429
    assert third.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(third.headers["Retry-After"]) <= 60
    assert third.headers["RateLimit-Remaining"] == "0"


async def test_forwarded_for_is_believed_only_from_trusted_proxies(gateway: Gateway, stack: Stack) -> None:
    from services.devstack.supervisor import create_demo_key

    keys = [await create_demo_key(stack.env_used, owner=f"ratelimit-{uuid.uuid4().hex[:6]}") for _ in range(3)]
    async with gateway("127.0.0.1") as proxied:
        statuses = [
            (
                await proxied.post(
                    "/api/estimate", json=_body(), headers={**bearer(key), "X-Forwarded-For": f"203.0.113.{i}"}
                )
            ).status_code
            for i, key in enumerate(keys)
        ]
    assert statuses == [202, 202, 202]
    untrusted_peer = f"198.51.100.{uuid.uuid4().int % 250}"
    async with gateway(untrusted_peer) as direct:
        statuses = [
            (
                await direct.post(
                    "/api/estimate", json=_body(), headers={**bearer(key), "X-Forwarded-For": f"203.0.114.{i}"}
                )
            ).status_code
            for i, key in enumerate(keys)
        ]
    assert statuses == [202, 202, 429]


async def test_one_key_is_limited_across_addresses(gateway: Gateway, stack: Stack) -> None:
    from services.devstack.supervisor import create_demo_key

    key = await create_demo_key(stack.env_used, owner=f"ratelimit-{uuid.uuid4().hex[:6]}")
    statuses = []
    for i in range(3):
        async with gateway(f"192.0.2.{i + 10 + uuid.uuid4().int % 200}") as client:
            statuses.append((await client.post("/api/estimate", json=_body(), headers=bearer(key))).status_code)
    assert statuses == [202, 202, 429]


async def test_idempotent_replays_do_not_use_up_the_limit(gateway: Gateway, stack: Stack) -> None:
    from services.devstack.supervisor import create_demo_key

    key = await create_demo_key(stack.env_used, owner=f"ratelimit-{uuid.uuid4().hex[:6]}")
    body, idem = _body(), {"Idempotency-Key": uuid.uuid4().hex}
    async with gateway(f"192.0.2.{uuid.uuid4().int % 250}") as client:
        first = await client.post("/api/estimate", json=body, headers={**bearer(key), **idem})
        replays = [await client.post("/api/estimate", json=body, headers={**bearer(key), **idem}) for _ in range(3)]
        fresh = [(await client.post("/api/estimate", json=_body(), headers=bearer(key))).status_code for _ in range(2)]
    assert {r.json()["job_id"] for r in replays} == {first.json()["job_id"]}
    assert fresh == [202, 429]


async def test_a_request_refused_by_its_key_costs_its_address_nothing(gateway: Gateway, stack: Stack) -> None:
    """Both windows count a request, or neither does: a spent key cannot use up a shared address's quota."""
    from services.devstack.supervisor import create_demo_key

    spent, fresh = [await create_demo_key(stack.env_used, owner=f"ratelimit-{uuid.uuid4().hex[:6]}") for _ in range(2)]
    # Addresses no other test uses: a shared one would spend these windows across tests.
    async with gateway(f"2001:db8:1::{uuid.uuid4().hex[:4]}") as first_address:
        allowed = [await first_address.post("/api/estimate", json=_body(), headers=bearer(spent)) for _ in range(2)]
    async with gateway(f"2001:db8:2::{uuid.uuid4().hex[:4]}") as shared_address:
        refused = await shared_address.post("/api/estimate", json=_body(), headers=bearer(spent))
        others = [await shared_address.post("/api/estimate", json=_body(), headers=bearer(fresh)) for _ in range(2)]

    assert [r.headers["RateLimit-Remaining"] for r in allowed] == ["1", "0"]
    assert refused.status_code == 429
    # The place frees when the first of the two leaves the one-minute window.
    assert 55 <= int(refused.headers["Retry-After"]) <= 60
    assert [r.status_code for r in others] == [202, 202]

"""Two gateway processes behave as one service: a shared rate limit, and any job's events on either.

A load balancer may send each request of one client to a different replica, so nothing a client
relies on may live in one replica's memory.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis
from redis.asyncio.client import PubSub

from services.devstack.supervisor import Stack, create_demo_key
from services.shared.jobs import events_channel
from tests.api import bearer, requirements
from tests.github_stub import free_port
from tests.stacks import isolated_stack, on_stores

RATE_LIMIT = 5


@dataclass
class Replicas:
    stack: Stack
    urls: tuple[str, str]

    async def clients(self, exits: AsyncExitStack) -> tuple[httpx.AsyncClient, httpx.AsyncClient]:
        """Clients of replicas A and B for one new user, calling from an address of their own.

        The gateways trust loopback as their proxy, so X-Forwarded-For names the client, as behind an
        ingress; a fresh address and key give each test rate-limit counters of its own.
        """
        key = await create_demo_key(self.stack.env_used, owner=f"replicas-{uuid.uuid4().hex[:8]}")
        address = f"198.18.{uuid.uuid4().int % 250}.{uuid.uuid4().int % 250 + 1}"
        headers = {**bearer(key), "X-Forwarded-For": address}
        a = await exits.enter_async_context(httpx.AsyncClient(base_url=self.urls[0], headers=headers, timeout=30))
        b = await exits.enter_async_context(httpx.AsyncClient(base_url=self.urls[1], headers=headers, timeout=30))
        return a, b


@pytest.fixture(scope="module")
async def replicas(
    redis_url: str, database_url: str, github_stub: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Replicas]:
    """A stack without workers (tests start one when they want jobs to run) and a second gateway."""
    state_dir = tmp_path_factory.mktemp("replicas")
    stack = isolated_stack(
        on_stores(redis_url, database_url, state_dir),
        state_dir / "logs",
        workers=0,
        env={
            "GITHUB_API_URL": github_stub,
            "SIM_OUTPUT_TPM": "10000000",
            "LLM_OUTPUT_TPM": "10000000",
            "ESTIMATE_RATE_LIMIT": f"{RATE_LIMIT}/minute",
            "TRUSTED_PROXIES": '["127.0.0.1/32"]',
        },
    )
    try:
        await stack.start()
        second = await stack.start_gateway("gateway-b", free_port())
        yield Replicas(stack, (stack.gateway_url, second))
    finally:
        stack.stop()


def _body() -> dict[str, str]:
    return {"requirements_md": requirements(f"Replicated {uuid.uuid4().hex[:8]}", "one", "two")}


@pytest.mark.parametrize("first", [0, 1], ids=["A-first", "B-first"])
async def test_replicas_share_one_rate_limit(replicas: Replicas, first: int) -> None:
    async with AsyncExitStack() as exits:
        gateways = await replicas.clients(exits)
        responses = [await gateways[(first + i) % 2].post("/api/estimate", json=_body()) for i in range(RATE_LIMIT + 1)]

    assert [r.status_code for r in responses] == [202] * RATE_LIMIT + [429]
    refused = responses[-1]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60


async def _status_events(response: httpx.Response) -> AsyncIterator[dict[str, Any]]:
    async for line in response.aiter_lines():
        if line.startswith("data:"):
            yield json.loads(line.removeprefix("data:"))


async def _subscription_connections(redis: aioredis.Redis) -> int:
    """Connections of this test run's database that are in pub/sub mode."""
    db = str(redis.connection_pool.connection_kwargs.get("db", 0))
    return sum(1 for c in await redis.client_list() if c["db"] == db and (int(c["psub"]) > 0 or int(c["sub"]) > 0))


async def test_a_job_submitted_on_one_replica_is_followed_to_its_end_on_the_other(
    replicas: Replicas, redis_client: aioredis.Redis
) -> None:
    async with AsyncExitStack() as exits:
        gateway_a, gateway_b = await replicas.clients(exits)
        submitted = await gateway_a.post("/api/estimate", json=_body())
        job_id = submitted.json()["job_id"]
        published = await exits.enter_async_context(redis_client.pubsub())
        await published.subscribe(events_channel(job_id))
        subscriptions_before = await _subscription_connections(redis_client)

        watchers = [
            await exits.enter_async_context(gateway_b.stream("GET", f"/api/estimate/{job_id}/events")) for _ in range(3)
        ]
        streams = [_status_events(response) for response in watchers]
        first_events = [await anext(stream) for stream in streams]
        subscriptions_while_watching = await _subscription_connections(redis_client)

        replicas.stack.start_worker("worker-replicas")
        async with asyncio.timeout(60):
            followed = [[event async for event in stream] for stream in streams]
            changes = [json.loads(message["data"]) async for message in _messages_until_terminal(published)]

    assert submitted.status_code == 202
    assert [event["status"] for event in first_events] == ["queued"] * 3
    assert subscriptions_while_watching == subscriptions_before
    expected = [(change["status"], change["stage"]) for change in changes]
    assert expected[-1] == ("succeeded", "done")
    assert ("running", "estimating") in expected
    for stream in followed:
        assert [(event["status"], event["stage"]) for event in stream] == expected


async def _messages_until_terminal(pubsub: PubSub) -> AsyncIterator[dict[str, Any]]:
    async for message in pubsub.listen():
        if message["type"] != "message":
            continue
        yield message
        if json.loads(message["data"])["status"] in ("succeeded", "failed"):
            return

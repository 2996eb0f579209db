"""Authentication that needs neither the saves service for a valid key nor lets failures cost it anything.

Gateways run in-process on the running stack's Redis: one whose saves service is unreachable (a port
nobody listens on), and one that trusts loopback as its proxy, so X-Forwarded-For names the client.
"""

from __future__ import annotations

import asyncio
import secrets
import sys
import uuid

import httpx
import pytest
import redis.asyncio as aioredis

from services.devstack.supervisor import Stack, create_demo_key
from services.shared.apikeys import auth_cache_key, hash_key
from tests.api import bearer, requirements, wait_for_job
from tests.github_stub import free_port
from tests.stacks import in_process_gateway


async def _revoke(stack: Stack, key: str) -> None:
    revoke = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "services.cli", "keys", "revoke", key[:12], env=stack.env_used
    )
    assert await revoke.wait() == 0


async def _until_refused(client: httpx.AsyncClient, path: str, key: str, within_s: float = 3.0) -> httpx.Response:
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        response = await client.get(path, headers=bearer(key))
        if response.status_code != 200 or asyncio.get_running_loop().time() > deadline:
            return response
        await asyncio.sleep(0.02)


async def test_with_the_saves_service_down_a_valid_key_never_seen_authenticates_and_a_revoked_one_does_not(
    stack: Stack, monkeypatch: pytest.MonkeyPatch
) -> None:
    owner = f"outage-{uuid.uuid4().hex[:8]}"
    key, other = await create_demo_key(stack.env_used, owner=owner), await create_demo_key(stack.env_used, owner)
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(key), timeout=30) as healthy:
        submitted = await healthy.post("/api/estimate", json={"requirements_md": requirements("Outage", "x")})
        job_id = submitted.json()["job_id"]
        await wait_for_job(healthy, job_id)

    env = {name: stack.env_used[name] for name in ("REDIS_URL", "CHAT_URL", "INTERNAL_TOKEN", "QUEUE_NAME")}
    async with in_process_gateway(monkeypatch, {**env, "SAVES_URL": f"http://127.0.0.1:{free_port()}"}) as client:
        status = await client.get(f"/api/estimate/{job_id}/status", headers=bearer(key))
        before = await client.get(f"/api/estimate/{job_id}/status", headers=bearer(other))
        await _revoke(stack, other)
        revoked_at = asyncio.get_running_loop().time()
        after = await _until_refused(client, f"/api/estimate/{job_id}/status", other)
        elapsed = asyncio.get_running_loop().time() - revoked_at
        unknown = await client.get(f"/api/estimate/{job_id}/status", headers=bearer(f"est_{secrets.token_urlsafe(32)}"))

    assert status.status_code == 200, status.text
    assert status.json()["status"] == "succeeded"
    assert before.status_code == 200, "the second key was valid, and authenticated from memory afterwards"
    assert after.status_code == 401 and elapsed < 1.0, "a revocation is effective at once, saves down or not"
    assert unknown.status_code == 503, "a key the mirror lacks can only be told by the saves service"


async def test_failed_authentications_from_one_address_are_refused_before_the_saves_service_is_asked(
    stack: Stack, monkeypatch: pytest.MonkeyPatch, api_key: str, other_key: str, redis_client: aioredis.Redis
) -> None:
    env = {name: stack.env_used[name] for name in ("REDIS_URL", "SAVES_URL", "CHAT_URL", "INTERNAL_TOKEN")}
    env |= {"AUTH_FAILURE_LIMIT": "20/minute", "TRUSTED_PROXIES": '["127.0.0.1/32"]'}
    attacker = {"X-Forwarded-For": f"203.0.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    bystander = {"X-Forwarded-For": f"198.51.{secrets.randbelow(250)}.{secrets.randbelow(250)}"}
    random_keys = [f"est_{secrets.token_urlsafe(32)}" for _ in range(30)]

    async with in_process_gateway(monkeypatch, env, peer="127.0.0.1") as client:
        burst = [await client.get("/api/saves", headers={**bearer(key), **attacker}) for key in random_keys]
        valid_elsewhere = await client.get("/api/saves", headers={**bearer(other_key), **bystander})
        valid_same_address = await client.get("/api/saves", headers={**bearer(api_key), **attacker})
        still_refused = await client.get("/api/saves", headers={**bearer(random_keys[0]), **attacker})

    assert [r.status_code for r in burst] == [401] * 20 + [429] * 10
    refused = burst[20]
    assert refused.json()["error"]["code"] == "rate_limited"
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    looked_up = [await redis_client.get(auth_cache_key(hash_key(key))) for key in random_keys]
    assert looked_up[:20] == [b"-"] * 20, "each failure was looked up once, and its answer cached"
    assert looked_up[20:] == [None] * 10, "past the limit, no key reached the saves service"
    assert valid_elsewhere.status_code == 200, "another address is not limited"
    assert valid_same_address.status_code == 200, "a valid key is never refused for its address's failures"
    assert still_refused.status_code == 429

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.devstack.supervisor import Stack
from tests.api import bearer
from tests.stacks import in_process_gateway


@pytest.fixture
async def client(stack: Stack, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as c:
        yield c


@pytest.fixture
async def intruder(stack: Stack, other_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(other_key), timeout=30) as c:
        yield c


@pytest.fixture
async def replica(stack: Stack, monkeypatch: pytest.MonkeyPatch, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    """A second gateway on the same Redis and saves service, as another pod behind the ingress."""
    env = {name: stack.env_used[name] for name in ("REDIS_URL", "SAVES_URL", "CHAT_URL", "INTERNAL_TOKEN")}
    async with in_process_gateway(monkeypatch, env) as other:
        other.headers.update(bearer(api_key))
        yield other

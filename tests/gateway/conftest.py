from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest

from services.devstack.supervisor import Stack
from tests.api import bearer


@pytest.fixture
async def client(stack: Stack, api_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as c:
        yield c


@pytest.fixture
async def intruder(stack: Stack, other_key: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(other_key), timeout=30) as c:
        yield c

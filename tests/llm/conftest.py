"""A fleet budget of its own for each test, on the run's real Redis."""

from __future__ import annotations

import time
import uuid
from collections.abc import AsyncIterator, Callable

import pytest
import redis.asyncio as aioredis

from services.llm.budget import FleetBudget
from services.llm.settings import BudgetSettings

BudgetFactory = Callable[..., FleetBudget]


@pytest.fixture
async def make_budget(redis_url: str) -> AsyncIterator[BudgetFactory]:
    clients: list[aioredis.Redis] = []
    prefix = f"test:budget:{uuid.uuid4().hex[:8]}"

    def make(**limits: float) -> FleetBudget:
        client = aioredis.Redis.from_url(redis_url, decode_responses=True)
        clients.append(client)
        values: dict[str, float] = {
            "llm_rpm": 1000,
            "llm_input_tpm": 1_000_000,
            "llm_output_tpm": 30_000,
            "llm_chat_reserve": 0.0,
            "llm_refund_delay_s": 0.0,
            "llm_admission_margin_s": 0.0,
        }
        settings = BudgetSettings.model_validate({**values, **limits, "llm_budget_prefix": prefix})
        return FleetBudget(client, settings)

    yield make
    async for key in clients[0].scan_iter(f"{prefix}:*"):
        await clients[0].delete(key)
    for client in clients:
        await client.aclose()


def soon(seconds: float = 0.3) -> float:
    return time.monotonic() + seconds


@pytest.fixture
async def budget(redis_url: str) -> AsyncIterator[FleetBudget]:
    """A fleet budget of its own with the default limits."""
    client = aioredis.Redis.from_url(redis_url, decode_responses=True)
    yield FleetBudget(client, BudgetSettings(llm_budget_prefix=f"test:calls:{uuid.uuid4().hex[:8]}"))
    await client.aclose()

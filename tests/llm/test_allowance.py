"""The output a Claude call reserves: learned from recent calls of its kind, within a floor and a ceiling."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from services.llm.allowance import MIN_SAMPLES, OutputAllowance, quantile


@pytest.fixture
def allowance(redis_client: aioredis.Redis) -> OutputAllowance:
    return OutputAllowance(redis_client, f"test:allowance:{uuid.uuid4().hex[:8]}", 0.9, floor=64, ceiling=2000)


async def test_until_enough_is_measured_the_initial_guess_is_used(allowance: OutputAllowance) -> None:
    for _ in range(MIN_SAMPLES - 1):
        await allowance.learn("answer:first", 100)

    assert await allowance.tokens("answer:first", 400) == 400


async def test_the_allowance_is_a_high_quantile_of_recent_calls_of_the_same_kind(allowance: OutputAllowance) -> None:
    for used in range(101, 201):
        await allowance.learn("answer:first", used)
    for _ in range(MIN_SAMPLES):
        await allowance.learn("estimate", 450)

    assert await allowance.tokens("answer:first", 400) == 190
    assert await allowance.tokens("estimate", 8000) == 450


async def test_floor_and_ceiling_bound_what_is_learned(allowance: OutputAllowance) -> None:
    for _ in range(MIN_SAMPLES):
        await allowance.learn("small", 5)
        await allowance.learn("large", 9000)

    assert await allowance.tokens("small", 300) == 64
    assert await allowance.tokens("large", 300) == 2000


async def test_only_the_latest_calls_count(allowance: OutputAllowance) -> None:
    for _ in range(300):
        await allowance.learn("answer:first", 1500)
    for _ in range(200):
        await allowance.learn("answer:first", 120)

    assert await allowance.tokens("answer:first", 400) == 120


def test_quantile_is_a_value_actually_used() -> None:
    assert quantile([5, 1, 3, 2, 4], 0.9) == 5
    assert quantile([5, 1, 3, 2, 4], 0.5) == 3

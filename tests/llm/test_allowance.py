"""The output a Claude call reserves: learned from recent calls of its kind, within a floor and a ceiling."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from services.llm.allowance import MIN_SAMPLES, OutputAllowance, quantile


@pytest.fixture
def allowance(redis_client: aioredis.Redis) -> OutputAllowance:
    return OutputAllowance(redis_client, f"test:allowance:{uuid.uuid4().hex[:8]}", 0.9, floor=64, ceiling=2000)


async def test_a_kind_never_measured_reserves_the_initial_guess(allowance: OutputAllowance) -> None:
    assert await allowance.tokens("estimate", 1800) == 1800


async def test_until_enough_is_measured_the_largest_use_seen_plus_a_shrinking_margin(
    allowance: OutputAllowance,
) -> None:
    """A fresh fleet does not reserve its initial guess (an estimation's 8,000 tokens) for MIN_SAMPLES calls."""
    await allowance.learn("estimate", 600)
    after_one = await allowance.tokens("estimate", 1800)
    for used in (900, 700, 800):
        await allowance.learn("estimate", used)
    after_four = await allowance.tokens("estimate", 1800)
    for _ in range(MIN_SAMPLES - 5):
        await allowance.learn("estimate", 900)
    await allowance.learn("huge", 1500)

    assert after_one == 1200, "one call seen: twice what it used"
    assert after_four == 1125, "four seen: the largest, 900, and a quarter more"
    assert await allowance.tokens("estimate", 1800) == 948  # 19 seen: 900 + 1/19
    assert await allowance.tokens("huge", 1000) == 2000, "above a guess that proved short, up to the ceiling"


async def test_the_allowance_is_a_high_quantile_of_recent_calls_of_the_same_kind(allowance: OutputAllowance) -> None:
    for used in range(101, 201):
        await allowance.learn("answer:first", used)
    for _ in range(MIN_SAMPLES):
        await allowance.learn("estimate", 450)

    assert await allowance.tokens("answer:first", 400) == 190
    own = OutputAllowance(allowance.redis, allowance.prefix, 0.9, 64, 2000, quantiles={"answer:first": 0.5})
    assert await own.tokens("answer:first", 400) == 150, "a kind may have its own quantile"
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

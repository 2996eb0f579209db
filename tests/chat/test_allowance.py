"""The output a chat call reserves: learned from recent calls of its kind, within a floor and a ceiling."""

from __future__ import annotations

import uuid

import pytest
import redis.asyncio as aioredis

from services.chat.allowance import INITIAL, MIN_SAMPLES, OutputAllowance, predict_kind, quantile


@pytest.fixture
def allowance(redis_client: aioredis.Redis) -> OutputAllowance:
    return OutputAllowance(redis_client, f"test:chat:{uuid.uuid4().hex[:8]}", 0.9, floor=64, ceiling=2000)


async def test_until_enough_is_measured_the_initial_guess_is_used(allowance: OutputAllowance) -> None:
    for _ in range(MIN_SAMPLES - 1):
        await allowance.learn("answer", "first", 100)

    assert await allowance.tokens("answer", "first") == INITIAL[("answer", "first")]


async def test_the_allowance_is_a_high_quantile_of_recent_calls_of_the_same_kind(allowance: OutputAllowance) -> None:
    for used in range(101, 201):
        await allowance.learn("answer", "first", used)
    for _ in range(MIN_SAMPLES):
        await allowance.learn("revision", "first", 450)

    assert await allowance.tokens("answer", "first") == 190
    assert await allowance.tokens("revision", "first") == 450


async def test_floor_and_ceiling_bound_what_is_learned(allowance: OutputAllowance) -> None:
    for _ in range(MIN_SAMPLES):
        await allowance.learn("answer", "follow", 5)
        await allowance.learn("revision", "follow", 9000)

    assert await allowance.tokens("answer", "follow") == 64
    assert await allowance.tokens("revision", "follow") == 2000


async def test_only_the_latest_calls_count(allowance: OutputAllowance) -> None:
    for _ in range(300):
        await allowance.learn("answer", "first", 1500)
    for _ in range(200):
        await allowance.learn("answer", "first", 120)

    assert await allowance.tokens("answer", "first") == 120


@pytest.mark.parametrize(
    ("message", "kind"),
    [
        ("Please add a mobile app", "revision"),
        ("Drop the calendar sync", "revision"),
        ("Why is the API 40 hours?", "answer"),
        ("What does P90 mean here?", "answer"),
    ],
)
def test_the_kind_of_a_turn_is_predicted_from_its_message(message: str, kind: str) -> None:
    assert predict_kind(message) == kind


def test_quantile_is_a_value_actually_used() -> None:
    assert quantile([5, 1, 3, 2, 4], 0.9) == 5
    assert quantile([5, 1, 3, 2, 4], 0.5) == 3

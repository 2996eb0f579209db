"""The output a Claude call reserves: learned from recent calls of its kind, within a floor and a ceiling."""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid

import pytest
import redis.asyncio as aioredis

from services.llm.allowance import MIN_SAMPLES, OutputAllowance, quantile
from tests.github_stub import free_port


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


async def _burst(allowance: OutputAllowance, calls: int, probes: int, uses: int) -> tuple[list[int], int]:
    """`calls` calls arriving at once, each holding its allowance a moment, then learning `uses`: what each
    reserved, and how many ran at once at most."""
    reserved: list[int] = []
    running = [0, 0]  # now, peak
    deadline = time.monotonic() + 30

    async def call() -> None:
        async with allowance.probing("estimate", probes, deadline):
            running[0] += 1
            running[1] = max(running)
            reserved.append(await allowance.tokens("estimate", 1800))
            await asyncio.sleep(0.3)
            await allowance.learn("estimate", uses)
            running[0] -= 1

    await asyncio.gather(*(call() for _ in range(calls)))
    return reserved, running[1]


async def test_a_burst_on_a_kind_never_measured_reserves_from_a_few_probes_not_the_guess(
    allowance: OutputAllowance,
) -> None:
    reserved, _ = await _burst(allowance, calls=10, probes=2, uses=600)

    assert reserved[:2] == [1800, 1800], "two probes at the guess"
    assert max(reserved[2:]) == 900, "the rest waited for them: 600 plus a half, or less as more are measured"


async def test_without_probes_a_burst_reserves_the_guess_for_every_call(allowance: OutputAllowance) -> None:
    assert await _burst(allowance, calls=5, probes=0, uses=600) == ([1800] * 5, 5)


async def test_once_measured_nobody_waits_and_nothing_is_held(allowance: OutputAllowance) -> None:
    for _ in range(3):
        await allowance.learn("estimate", 500)

    assert await _burst(allowance, calls=6, probes=3, uses=500) == ([667] * 6, 6)
    assert await allowance.redis.exists(f"{allowance.prefix}:probes:estimate") == 0


async def test_a_probe_that_fails_gives_its_place_to_a_waiting_call(allowance: OutputAllowance) -> None:
    order: list[str] = []
    deadline = time.monotonic() + 30
    probing, other_waits = asyncio.Event(), asyncio.Event()

    async def waits(waiting: bool) -> None:
        if waiting:
            other_waits.set()

    async def failing_probe() -> None:
        with contextlib.suppress(RuntimeError):
            async with allowance.probing("estimate", 1, deadline):
                order.append("probe")
                probing.set()
                await other_waits.wait()
                raise RuntimeError("Claude refused")

    async def waiting() -> None:
        await probing.wait()
        async with allowance.probing("estimate", 1, deadline, waits):
            order.append("waiting")
            assert await allowance.tokens("estimate", 1800) == 1800, "still nothing measured: it probes"
            await allowance.learn("estimate", 700)

    await asyncio.wait_for(asyncio.gather(failing_probe(), waiting()), 10)

    assert order == ["probe", "waiting"]


async def test_bookkeeping_after_a_paid_call_never_raises_when_redis_fails(allowance: OutputAllowance) -> None:
    """Learning a call's use and giving back a probe's place run before the paid answer is stored."""
    unreachable = aioredis.Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    async with allowance.probing("estimate", 1, time.monotonic() + 30):
        allowance.redis = unreachable  # Redis goes away while the call runs
        await allowance.learn("estimate", 700)
    await unreachable.aclose()


async def test_a_probe_whose_holder_died_frees_its_place_when_its_lease_ends(allowance: OutputAllowance) -> None:
    dead = allowance.probing("estimate", 1, time.monotonic() + 30, lease_s=0.5)
    await dead.__aenter__()  # a worker killed inside its call never leaves the block
    started = time.monotonic()

    async with allowance.probing("estimate", 1, time.monotonic() + 30, lease_s=0.5):
        waited = time.monotonic() - started

    assert 0.3 < waited < 5


async def test_a_call_waits_for_probes_no_longer_than_it_was_told_and_says_it_waits(
    allowance: OutputAllowance,
) -> None:
    heard: list[bool] = []

    async def on_wait(waiting: bool) -> None:
        heard.append(waiting)

    async with allowance.probing("estimate", 1, time.monotonic() + 30, on_wait):
        started = time.monotonic()
        async with allowance.probing("estimate", 1, time.monotonic() + 0.5, on_wait):
            waited = time.monotonic() - started
            reserved = await allowance.tokens("estimate", 1800)

    assert 0.4 < waited < 3
    assert reserved == 1800, "past its wait it goes with what there is: the guess"
    assert heard == [True, False], "the probe itself never waited; the other said so once, then stopped"

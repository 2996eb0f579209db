"""Identical concurrent misses make one call to the saves service; failures and cancellations stay contained."""

from __future__ import annotations

import asyncio

import pytest

from services.gateway.single_flight import SingleFlight


async def test_concurrent_callers_of_one_key_share_one_call() -> None:
    flight: SingleFlight[str] = SingleFlight()
    calls = 0
    release = asyncio.Event()

    async def fetch() -> str:
        nonlocal calls
        calls += 1
        await release.wait()
        return "answer"

    waiting = [asyncio.create_task(flight.do("k", fetch)) for _ in range(50)]
    other = asyncio.create_task(flight.do("other", fetch))
    await asyncio.sleep(0)
    release.set()
    assert await asyncio.gather(*waiting) == ["answer"] * 50
    assert await other == "answer"
    await asyncio.sleep(0)
    assert calls == 2 and flight.calls == {}


async def test_a_failure_reaches_every_caller_and_the_next_call_tries_again() -> None:
    flight: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def failing() -> str:
        await release.wait()
        raise RuntimeError("saves down")

    waiting = [asyncio.create_task(flight.do("k", failing)) for _ in range(3)]
    await asyncio.sleep(0)
    release.set()
    for outcome in await asyncio.gather(*waiting, return_exceptions=True):
        assert isinstance(outcome, RuntimeError)

    async def working() -> str:
        return "back"

    assert await flight.do("k", working) == "back"


async def test_a_caller_that_gives_up_does_not_cancel_the_others() -> None:
    flight: SingleFlight[str] = SingleFlight()
    release = asyncio.Event()

    async def fetch() -> str:
        await release.wait()
        return "answer"

    first = asyncio.create_task(flight.do("k", fetch))
    second = asyncio.create_task(flight.do("k", fetch))
    await asyncio.sleep(0)
    first.cancel()  # even the caller that started the call
    release.set()
    assert await second == "answer"
    with pytest.raises(asyncio.CancelledError):
        await first

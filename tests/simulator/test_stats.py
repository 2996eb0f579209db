"""Requests in flight and their peak: what a test reads to prove how many Claude calls ran at once."""

from __future__ import annotations

import asyncio
from typing import Any

import anthropic
import pytest

from tests.simulator.conftest import MODEL, Sim, SimFactory

HI: Any = [{"role": "user", "content": "Hi"}]


async def _stats(sim: Sim) -> dict[str, int]:
    stats: dict[str, int] = (await sim.http.get("/_sim/stats")).json()
    return stats


async def _until_in_flight(sim: Sim, count: int) -> None:
    for _ in range(500):
        if (await _stats(sim))["in_flight"] == count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"never {count} requests in flight: {await _stats(sim)}")


async def _streamed(sim: Sim) -> anthropic.types.Message:
    async with sim.claude.messages.stream(model=MODEL, max_tokens=50, messages=HI) as stream:
        return await stream.get_final_message()


async def test_the_peak_is_the_most_requests_answered_at_once(make_sim: SimFactory) -> None:
    sim = await make_sim(first_token_latency_s=0.5)
    calls = [
        asyncio.create_task(sim.claude.messages.create(model=MODEL, max_tokens=50, messages=HI)),
        asyncio.create_task(sim.claude.messages.create(model=MODEL, max_tokens=50, messages=HI)),
        asyncio.create_task(_streamed(sim)),
    ]
    await _until_in_flight(sim, 3)
    await asyncio.gather(*calls)
    await sim.claude.messages.create(model=MODEL, max_tokens=50, messages=HI)

    stats = await _stats(sim)

    assert (stats["in_flight"], stats["peak_in_flight"], stats["requests"]) == (0, 3, 4)


async def test_refused_and_broken_requests_leave_the_flight(sim: Sim) -> None:
    await sim.http.post("/_sim/faults", json={"kind": "overloaded_mid_stream"})
    await sim.http.post("/_sim/faults", json={"kind": "rate_limited"})

    with pytest.raises(anthropic.APIStatusError):
        await _streamed(sim)
    with pytest.raises(anthropic.RateLimitError):
        await sim.claude.messages.create(model=MODEL, max_tokens=50, messages=HI)

    stats = await _stats(sim)
    assert (stats["in_flight"], stats["peak_in_flight"], stats["requests"]) == (0, 1, 2)


async def test_a_client_hanging_up_ends_its_request(make_sim: SimFactory) -> None:
    sim = await make_sim(first_token_latency_s=30)
    call = asyncio.create_task(_streamed(sim))
    await _until_in_flight(sim, 1)

    call.cancel()
    await asyncio.gather(call, return_exceptions=True)

    await _until_in_flight(sim, 0)


async def test_reset_restarts_the_peak_from_the_requests_still_in_flight(make_sim: SimFactory) -> None:
    sim = await make_sim(first_token_latency_s=0.5)
    first = [asyncio.create_task(sim.claude.messages.create(model=MODEL, max_tokens=50, messages=HI)) for _ in "ab"]
    await _until_in_flight(sim, 2)
    await asyncio.gather(*first)
    slow = asyncio.create_task(sim.claude.messages.create(model=MODEL, max_tokens=50, messages=HI))
    await _until_in_flight(sim, 1)

    await sim.http.post("/_sim/reset")
    during = await _stats(sim)
    await slow
    after = await _stats(sim)

    assert (during["in_flight"], during["peak_in_flight"]) == (1, 1)
    assert (after["in_flight"], after["peak_in_flight"]) == (0, 1)


async def test_in_flight_and_peak_are_prometheus_gauges(make_sim: SimFactory) -> None:
    sim = await make_sim(first_token_latency_s=0.5)
    calls = [asyncio.create_task(sim.claude.messages.create(model=MODEL, max_tokens=50, messages=HI)) for _ in "ab"]
    await _until_in_flight(sim, 2)

    during = (await sim.http.get("/metrics")).text
    await asyncio.gather(*calls)
    after = (await sim.http.get("/metrics")).text

    assert "# TYPE claude_sim_in_flight gauge" in during
    assert "claude_sim_in_flight 2.0" in during
    assert "claude_sim_in_flight 0.0" in after
    assert "claude_sim_peak_in_flight 2.0" in after

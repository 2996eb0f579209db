"""Waiting for the fleet budget in line: first come first served, positions told, the dead and the
impatient leave, and a chat flood cannot starve estimations."""

from __future__ import annotations

import asyncio
import contextlib
import time

from services.llm.budget import CapacityTimeout, FleetBudget, LinePlace, Waiting
from tests.llm.conftest import BudgetFactory, soon


async def _drain(budget: FleetBudget) -> None:
    """Takes the whole output bucket, so the next callers must wait for its refill."""
    lease = await budget.acquire("chat", 10, int(budget.settings.llm_output_tpm), soon())
    await budget.settle(lease)


async def test_chat_callers_are_admitted_in_order_of_arrival(make_budget: BudgetFactory) -> None:
    # 6,000 tokens a minute: one 100-token call every second.
    replicas = [make_budget(llm_output_tpm=6_000) for _ in range(3)]
    await _drain(replicas[0])
    admitted: list[int] = []

    async def caller(number: int) -> None:
        await replicas[number % 3].acquire("chat", 10, 100, soon(10))
        admitted.append(number)

    tasks = []
    for number in range(5):
        tasks.append(asyncio.create_task(caller(number)))
        await asyncio.sleep(0.05)
    await asyncio.gather(*tasks)

    assert admitted == [0, 1, 2, 3, 4]


async def test_a_later_call_of_the_same_work_keeps_its_place_in_line(make_budget: BudgetFactory) -> None:
    """A chat turn's follow-up (the reply after its edit) waits from when the turn arrived, not behind the
    turns that arrived while its first call ran."""
    budget = make_budget(llm_output_tpm=6_000)
    place = LinePlace()
    first_call = await budget.acquire("chat", 10, 6_000, soon(), place=place)  # the whole output bucket
    await budget.settle(first_call)
    admitted: list[str] = []

    async def caller(name: str, place: LinePlace | None = None) -> None:
        await budget.acquire("chat", 10, 100, soon(10), place=place)
        admitted.append(name)

    newer = [asyncio.create_task(caller(f"newer-{n}")) for n in range(2)]
    await asyncio.sleep(0.1)
    follow_up = asyncio.create_task(caller("follow-up", place))
    await asyncio.gather(*newer, follow_up)

    assert place.arrived_ms > 0
    assert admitted[0] == "follow-up", admitted


async def test_a_waiter_is_told_its_place_and_moves_up(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_output_tpm=6_000)
    await _drain(budget)
    first = asyncio.create_task(budget.acquire("chat", 10, 100, soon(10)))
    await asyncio.sleep(0.1)
    heard: list[Waiting | None] = []

    async def listener(wait: Waiting | None) -> None:
        heard.append(wait)

    await budget.acquire("chat", 10, 100, soon(10), on_wait=listener)
    await first

    told = [wait for wait in heard if wait is not None]
    assert (told[0].reason, told[0].position) == ("queue", 2) and told[0].expected_s > 0
    assert told[-1].position == 1 and heard[-1] is None


async def test_a_caller_that_gives_up_leaves_the_line_at_once(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_output_tpm=6_000)
    await _drain(budget)
    impatient = asyncio.create_task(budget.acquire("chat", 10, 100, soon(0.2)))
    await asyncio.sleep(0.05)
    patient = asyncio.create_task(budget.acquire("chat", 10, 100, soon(10)))

    with contextlib.suppress(CapacityTimeout):
        await impatient
    started = time.monotonic()
    await patient

    assert time.monotonic() - started < 2.5, "the patient caller was not kept behind the one that left"
    assert await budget.redis.zcard(f"{budget.prefix}:line") == 0


async def test_a_dead_waiter_leaves_the_line_after_the_stale_time(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_output_tpm=600_000, llm_line_stale_s=2.5)
    # A process killed while waiting: it is in the line, seen long ago, and never comes back.
    now_s, now_us = await budget.redis.time()
    now_ms = int(now_s) * 1000 + int(now_us) // 1000
    await budget.redis.zadd(f"{budget.prefix}:line", {"c|ghost": now_ms - 60_000})
    await budget.redis.zadd(f"{budget.prefix}:line_seen", {"c|ghost": now_ms - 60_000})

    lease = await budget.acquire("chat", 10, 100, soon(1))

    assert lease is not None
    assert await budget.redis.zscore(f"{budget.prefix}:line", "c|ghost") is None


async def test_an_estimation_that_waited_long_goes_before_newer_chat(make_budget: BudgetFactory) -> None:
    # Chat keeps half of every limit; 60,000 tokens a minute refill 1,000 a second.
    budget = make_budget(llm_output_tpm=60_000, llm_chat_reserve=0.5, llm_estimate_starve_s=1.0)
    await _drain(budget)
    order: list[str] = []

    async def estimation() -> None:
        await budget.acquire("estimate", 10, 2_000, soon(20))
        order.append("estimate")

    async def chat_flood() -> None:
        # Chat alone would spend every token as it refills, and the estimation's 2,000 above the reserve
        # would never accumulate.
        for _ in range(8):
            lease = await budget.acquire("chat", 10, 400, soon(20))
            await budget.settle(lease)
            order.append("chat")

    await asyncio.gather(estimation(), chat_flood())

    assert "estimate" in order and order.index("estimate") < len(order) - 1, order


async def test_chat_within_its_share_is_not_held_back_by_a_waiting_estimation(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_output_tpm=60_000, llm_chat_reserve=0.5, llm_estimate_starve_s=0.5)
    # Estimations have had most of the last minute's output: chat is far below its share.
    await budget.settle(await budget.acquire("estimate", 10, 25_000, soon()))
    await budget.settle(await budget.acquire("chat", 10, 25_000, soon()))
    waiting = asyncio.create_task(budget.acquire("estimate", 10, 20_000, soon(3)))
    await asyncio.sleep(1.0)
    started = time.monotonic()

    for _ in range(5):
        await budget.settle(await budget.acquire("chat", 10, 400, soon(5)))

    assert time.monotonic() - started < 1.0, "chat waited behind an estimation while under its share"
    with contextlib.suppress(CapacityTimeout):
        await waiting

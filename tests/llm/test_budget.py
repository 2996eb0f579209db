"""The fleet budget against the real Redis: atomic reservations, settlement, priority, leases, cool-down."""

from __future__ import annotations

import asyncio

import pytest

from services.llm.budget import CapacityTimeout, FleetBudget, Lease, Waiting
from services.shared.contracts import Usage
from tests.llm.conftest import BudgetFactory, soon


async def _try(budget: FleetBudget, output: int, priority: str = "estimate", wait_s: float = 0.2) -> Lease | None:
    try:
        return await budget.acquire(priority, 10, output, soon(wait_s))  # type: ignore[arg-type]
    except CapacityTimeout:
        return None


async def test_concurrent_reservations_never_exceed_the_output_limit(make_budget: BudgetFactory) -> None:
    replicas = [make_budget() for _ in range(4)]
    results = await asyncio.gather(*(_try(replicas[i % 4], 4_000, wait_s=0.05) for i in range(40)))
    granted = [lease for lease in results if lease is not None]
    assert len(granted) == 7
    assert sum(lease.output_reserved for lease in granted) <= 30_000


async def test_settling_returns_the_unused_output(make_budget: BudgetFactory) -> None:
    budget = make_budget()
    leases = [await budget.acquire("estimate", 10, 10_000, soon()) for _ in range(3)]
    assert await _try(budget, 10_000) is None
    leases[0].record(Usage(input_tokens=10, output_tokens=500))
    await budget.settle(leases[0])
    assert await _try(budget, 9_000) is not None


async def test_a_refund_is_spendable_only_after_the_delay(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_refund_delay_s=1.0)
    leases = [await budget.acquire("estimate", 10, 10_000, soon()) for _ in range(3)]
    leases[0].record(Usage(input_tokens=10, output_tokens=500))
    await budget.settle(leases[0])
    assert await _try(budget, 9_000, wait_s=0.2) is None
    assert await budget.acquire("estimate", 10, 9_000, soon(5)) is not None


async def test_admission_keeps_a_margin_of_refill_in_hand(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_output_tpm=60_000, llm_admission_margin_s=1.0)
    await budget.acquire("estimate", 10, 59_000, soon())
    assert await _try(budget, 500, wait_s=0.1) is None
    assert await budget.acquire("estimate", 10, 500, soon(5)) is not None


async def test_cache_reads_are_not_charged_as_input(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_input_tpm=10_000, llm_output_tpm=1_000_000)
    lease = await budget.acquire("estimate", 9_000, 100, soon())
    lease.record(Usage(input_tokens=50, cache_read_input_tokens=8_900, output_tokens=10))
    await budget.settle(lease)
    assert await budget.acquire("estimate", 9_000, 100, soon()) is not None


async def test_a_call_that_used_more_than_reserved_leaves_a_debt(make_budget: BudgetFactory) -> None:
    budget = make_budget()
    lease = await budget.acquire("estimate", 10, 1_000, soon())
    lease.record(Usage(input_tokens=10, output_tokens=25_000))
    await budget.settle(lease)
    assert await _try(budget, 10_000) is None


async def test_estimations_cannot_touch_the_share_kept_for_chat(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_chat_reserve=0.5)
    assert await _try(budget, 14_000, "estimate") is not None
    assert await _try(budget, 2_000, "estimate") is None
    assert await _try(budget, 14_000, "chat") is not None


async def test_estimations_leave_in_flight_slots_for_chat(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_max_in_flight=4, llm_chat_reserve=0.25, llm_output_tpm=1_000_000)
    estimations = [await _try(budget, 10) for _ in range(4)]
    assert [lease is not None for lease in estimations] == [True, True, True, False]
    assert await _try(budget, 10, "chat") is not None


async def test_a_dead_holder_frees_its_slot_when_its_lease_expires(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_max_in_flight=1, llm_lease_ttl_s=1.5, llm_output_tpm=1_000_000)
    assert await budget.acquire("estimate", 10, 10, soon()) is not None  # never settled, never renewed
    assert await _try(budget, 10, wait_s=0.3) is None
    assert await budget.acquire("estimate", 10, 10, soon(5)) is not None


async def test_a_live_holder_keeps_its_slot_past_the_ttl(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_max_in_flight=1, llm_lease_ttl_s=1.2, llm_output_tpm=1_000_000)
    async with budget.slot("estimate", 10, 10, soon()):
        await asyncio.sleep(2.0)
        assert await _try(budget, 10, wait_s=0.2) is None
    assert await _try(budget, 10) is not None


async def test_an_upstream_refusal_pauses_every_replica(make_budget: BudgetFactory) -> None:
    first, second = make_budget(), make_budget()
    await first.cool_down(5, 429)
    with pytest.raises(CapacityTimeout) as refused:
        await second.acquire("chat", 10, 10, soon(0.5))
    assert refused.value.reason == "cooldown"


async def test_the_operator_can_change_the_limits_in_redis(make_budget: BudgetFactory) -> None:
    budget = make_budget()
    await budget.redis.hset(budget.config_key, mapping={"output_tpm": 5_000})  # type: ignore[misc]
    assert await _try(budget, 4_000) is not None
    assert await _try(budget, 2_000) is None


async def test_waiting_is_reported_then_admission(make_budget: BudgetFactory) -> None:
    budget = make_budget(llm_output_tpm=60_000)
    await budget.acquire("estimate", 10, 60_000, soon())
    heard: list[str | None] = []

    async def listener(wait: Waiting | None) -> None:
        heard.append(wait.reason if wait else None)

    await budget.acquire("estimate", 10, 500, soon(5), on_wait=listener)
    assert heard == ["out", None]

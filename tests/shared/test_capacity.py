"""The capacity model against hand-worked cases, the plan's own table, and queueing theory."""

from __future__ import annotations

import math

import pytest

from services.shared.capacity import (
    TIERS,
    Limits,
    Mix,
    erlang_c_p95,
    forecast,
    limits_for,
    plan,
    simulate_waits,
    workers_for,
)

# The plan's table (scale-to-1000-users.md): 8k output tokens an estimation, about 60 s, no chat reserve.
PLAN_MIX = Mix(estimate_output_tokens=8_000, tokens_per_second=8_000 / 59, first_token_s=1)
PLAN_TABLE = {"1": 1, "2": 11, "3": 20, "4": 48}


@pytest.mark.parametrize(("tier", "expected"), PLAN_TABLE.items())
def test_the_fed_concurrency_matches_the_plans_table(tier: str, expected: int) -> None:
    fed = plan(limits_for(tier), chat_reserve=0, mix=PLAN_MIX).estimation_concurrency
    assert abs(fed - expected) <= max(1, 0.05 * expected)


def test_tier_2_with_this_stacks_usage_worked_by_hand() -> None:
    """72,000 output tokens a minute for estimations (80 %); one spends 6,000 over 101 s, i.e. 3,564 a
    minute: 20.2 at once. Chat: 18,000 a minute, 150 tokens over 3.5 s (2,571 a minute) → 7 by output, but
    450,000 x 20 % input, 1,500 a turn over 3.5 s (25,714 a minute) → 3.5: 3 turns."""
    result = plan(limits_for("2"), chat_reserve=0.2)
    assert result.estimation_concurrency == 20
    assert (result.worker_max_replicas, result.worker_max_jobs) == (2, 10)
    assert result.chat_concurrency == 3
    assert result.max_in_flight == 23


def test_the_tightest_limit_wins() -> None:
    few_requests = Limits(rpm=6, input_tpm=10_000_000, output_tpm=10_000_000)
    # 6 requests a minute, each estimation one request of 101 s: 6 x 101 / 60 = 10.1 at once.
    assert plan(few_requests, chat_reserve=0).estimation_concurrency == 10


@pytest.mark.parametrize("concurrency", range(0, 120))
def test_workers_never_exceed_what_the_budget_feeds(concurrency: int) -> None:
    jobs, replicas = workers_for(concurrency)
    assert jobs * replicas <= concurrency
    assert jobs * replicas >= 0.8 * concurrency - 1  # and leave little of it unused
    jobs, replicas = workers_for(concurrency, max_jobs=4)
    assert jobs <= 4 and jobs * replicas <= concurrency


def test_a_budget_too_small_for_one_estimation_says_so() -> None:
    result = plan(Limits(rpm=50, input_tpm=30_000, output_tpm=1_000), chat_reserve=0.2)
    assert result.estimation_concurrency == 0 and result.worker_max_replicas == 0
    assert "cannot feed one estimation" in result.reasons[-1]
    assert not result.queue.stable


def test_tiers_are_named_loosely_and_explicit_limits_override_them() -> None:
    assert limits_for("Tier 2") == limits_for("tier-2") == limits_for("2") == TIERS["2"]
    assert limits_for("2", output_tpm=100_000).output_tpm == 100_000
    assert limits_for(None, rpm=10, input_tpm=20, output_tpm=30) == Limits(10, 20, 30)
    for bad in ({"tier": "5"}, {"tier": None, "rpm": 10}, {"tier": "2", "rpm": 0}):
        with pytest.raises(ValueError):
            limits_for(**bad)


def test_the_simulation_agrees_with_erlang_c_when_service_times_are_exponential() -> None:
    """Where M/M/c's assumptions hold, the simulation must reproduce its p95 wait (within 10 %)."""
    servers, service_s = 4, 10.0
    arrivals = 0.9 * servers / service_s
    waits = sorted(simulate_waits(arrivals, servers, service_s, cv=1.0, jobs=200_000))
    simulated = waits[int(0.95 * (len(waits) - 1))]
    assert simulated == pytest.approx(erlang_c_p95(arrivals, servers, service_s), rel=0.1)


def test_steadier_service_times_wait_less_than_mmc_says() -> None:
    steady = forecast(0.9 * 4 / 10, 4, 10.0, cv=0.3)
    assert 0 < steady.wait_p95_s < steady.wait_p95_mmc_s
    assert steady.utilisation == pytest.approx(0.9)


def test_an_overloaded_queue_has_no_finite_wait() -> None:
    overloaded = forecast(1.0, 2, 10.0, cv=0.3)
    assert not overloaded.stable and math.isinf(overloaded.wait_p95_s)

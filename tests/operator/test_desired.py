"""desired.py: a spec to the fleet's state, on the capacity model, before anything is written."""

from __future__ import annotations

import pytest

from estimator_operator.desired import InvalidSpec, desired_state, release_of

RELEASE = {"workerDeployment": "w", "workerHPA": "w"}


def test_tier_2_is_the_plans_two_workers_of_ten() -> None:
    desired = desired_state({"tier": "2", "release": RELEASE})
    assert (desired.max_replicas, desired.max_jobs) == (2, 10)
    assert desired.budget["output_tpm"] == 90_000 and desired.budget["chat_reserve"] == 0.2


def test_the_hpas_min_replicas_cuts_fewer_jobs_per_worker_within_the_budget() -> None:
    desired = desired_state({"tier": "2", "release": RELEASE}, min_replicas=3)
    assert desired.max_replicas >= 3 and desired.concurrency <= desired.plan.estimation_concurrency


@pytest.mark.parametrize(
    "spec",
    [
        {"tier": "2", "limits": {"outputTokensPerMinute": 100}, "release": RELEASE},  # feeds no estimation
        {"limits": {"rpm": 10}, "release": RELEASE},  # neither a tier nor all three limits
        {"tier": "9", "release": RELEASE},
    ],
)
def test_an_impossible_spec_is_invalid(spec: dict[str, object]) -> None:
    with pytest.raises(InvalidSpec):
        desired_state(spec)


def test_a_spec_without_its_release_is_invalid() -> None:
    with pytest.raises(InvalidSpec):
        release_of({"tier": "2"})

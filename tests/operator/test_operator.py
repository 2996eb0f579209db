"""The operator's promises, end to end: kopf in this process, kmock as the API server, the real Redis.

One LLMBudget's life: Tier 2 is applied (budget hash, HPA, Deployment, Ready), Tier 4 raises it, a
manual edit of the HPA is put back by the timer, an impossible spec is Degraded and changes nothing,
and deleting it restores the chart's defaults and clears the overrides.
"""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from services.shared.capacity import TIERS, plan
from tests.operator.conftest import (
    BUDGETS,
    CHART_MAX_JOBS,
    CHART_MAX_REPLICAS,
    DEPLOYMENT,
    HPA,
    TIMER_S,
    Cluster,
    Emulator,
    budget,
    eventually,
)

pytestmark = pytest.mark.kmock(cls=Emulator)


def max_jobs_env(deployment: dict[str, Any]) -> str | None:
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    return next((e.get("value") for e in container.get("env", []) if e["name"] == "WORKER_MAX_JOBS"), None)


async def fleet(cluster: Cluster) -> tuple[int, str, str | None]:
    """(HPA maxReplicas, HPA averageValue target, the worker container's WORKER_MAX_JOBS)."""
    hpa = await cluster.get(HPA)
    target = hpa["spec"]["metrics"][0]["external"]["target"]["averageValue"]
    return hpa["spec"]["maxReplicas"], target, max_jobs_env(await cluster.get(DEPLOYMENT))


async def ready(cluster: Cluster, generation: int) -> bool:
    condition = await cluster.condition("fleet", "Ready")
    return condition.get("status") == "True" and condition.get("observedGeneration") == generation


async def test_an_llmbudget_drives_the_fleet_and_deleting_it_restores_the_chart(cluster: Cluster) -> None:
    tier2, tier4 = plan(TIERS["2"]), plan(TIERS["4"])
    assert (tier2.worker_max_replicas, tier2.worker_max_jobs) == (2, 10)  # the plan's table: Tier 2 feeds 20

    # Create, Tier 2: the budget hash the services read, the HPA and the Deployment, and Ready.
    await cluster.request("post", BUDGETS, budget(tier="2", chatReserve=0.2))
    await eventually(lambda: ready(cluster, 1), what="Ready for Tier 2")
    assert await cluster.overrides() == {
        "rpm": "1000",
        "input_tpm": "450000",
        "output_tpm": "90000",
        "max_in_flight": str(tier2.max_in_flight),
        "chat_reserve": "0.2",
    }
    snapshot = await cluster.budget.snapshot()  # what every worker and chat replica now admits calls against
    assert (snapshot.max_in_flight, snapshot.chat_reserve) == (tier2.max_in_flight, 0.2)
    assert await fleet(cluster) == (2, "10", "10")
    status = (await cluster.get(f"{BUDGETS}/fleet"))["status"]
    assert status["applied"]["maxReplicas"] == 2 and status["applied"]["maxJobs"] == 10
    assert status["applied"]["concurrency"] <= status["applied"]["fedConcurrency"] == 20
    assert status["observedGeneration"] == 1
    assert {c["type"]: c["status"] for c in status["conditions"]} == {"Ready": "True", "Degraded": "False"}
    deployment = await cluster.get(DEPLOYMENT)
    env = deployment["spec"]["template"]["spec"]["containers"][0]["env"]
    assert env[0]["name"] == "REDIS_URL", "the chart's own env entries are kept"
    await eventually(lambda: posted(cluster, "Applied"), what="an event says what was applied")

    # Update to Tier 4: the budget and the workers follow (replicas x max_jobs still within the budget).
    await cluster.request(
        "patch",
        f"{BUDGETS}/fleet",
        {"metadata": {"generation": 2}, "spec": {"tier": "4"}},
        "application/merge-patch+json",
    )
    await eventually(lambda: ready(cluster, 2), what="Ready for Tier 4")
    overrides = await cluster.overrides()
    assert overrides["output_tpm"] == "400000" and overrides["max_in_flight"] == str(tier4.max_in_flight)
    assert await fleet(cluster) == (tier4.worker_max_replicas, str(tier4.worker_max_jobs), str(tier4.worker_max_jobs))
    assert tier4.worker_max_replicas * tier4.worker_max_jobs > 20

    # A manual edit of the HPA (and a budget reset by hand) are put back by the timer.
    await cluster.request("patch", HPA, {"spec": {"maxReplicas": 40}}, "application/merge-patch+json")
    await cluster.budget.clear_overrides()
    assert (await cluster.get(HPA))["spec"]["maxReplicas"] == 40

    async def put_back() -> bool:
        hpa = await cluster.get(HPA)
        return hpa["spec"]["maxReplicas"] == tier4.worker_max_replicas and bool(await cluster.overrides())

    await eventually(put_back, within=8, what="the timer puts the HPA and the budget back")
    # (Which handler puts it back, and so the event's reason, is not asserted: without resourceVersions
    # kmock lets kopf handle a stale copy of the update once more, and that run may come first.)

    # An impossible spec (Tier 2 with an output limit that feeds no estimation): Degraded, nothing touched.
    before_fleet, before_budget = await fleet(cluster), await cluster.overrides()
    await cluster.request(
        "patch",
        f"{BUDGETS}/fleet",
        {"metadata": {"generation": 3}, "spec": {"tier": "2", "limits": {"outputTokensPerMinute": 100}}},
        "application/merge-patch+json",
    )

    async def degraded() -> bool:
        condition = await cluster.condition("fleet", "Degraded")
        return condition.get("status") == "True" and condition.get("observedGeneration") == 3

    await eventually(degraded, what="Degraded for an impossible spec")
    condition = await cluster.condition("fleet", "Degraded")
    assert condition["reason"] == "InvalidSpec" and "cannot feed one estimation" in condition["message"]
    assert (await cluster.condition("fleet", "Ready"))["status"] == "False"
    await eventually(lambda: posted(cluster, "InvalidSpec", "Warning"), what="a warning event")
    await asyncio.sleep(2.5 * TIMER_S)  # two timer ticks on the degraded spec
    assert await fleet(cluster) == before_fleet and await cluster.overrides() == before_budget
    status = (await cluster.get(f"{BUDGETS}/fleet"))["status"]
    assert status["applied"]["maxReplicas"] == tier4.worker_max_replicas, "applied still shows what runs"

    # Delete: the finalizer holds the object until the chart's defaults are back and the overrides gone.
    await cluster.request("delete", f"{BUDGETS}/fleet")

    async def gone() -> bool:
        return not await cluster.exists(f"{BUDGETS}/fleet")

    await eventually(gone, what="the LLMBudget is deleted once restored")
    assert await fleet(cluster) == (CHART_MAX_REPLICAS, str(CHART_MAX_JOBS), None)
    assert await cluster.overrides() == {}
    snapshot = await cluster.budget.snapshot()
    assert snapshot.max_in_flight == 50, "back to the services' LLM_MAX_IN_FLIGHT default"
    await eventually(lambda: posted(cluster, "Restored"), what="an event for the restore")


async def test_a_missing_release_is_degraded_and_nothing_is_written(cluster: Cluster) -> None:
    spec = budget(name="elsewhere", tier="2")
    spec["spec"]["release"] = {"workerDeployment": "no-such-worker", "workerHPA": "no-such-hpa"}
    await cluster.request("post", BUDGETS, spec)

    async def degraded() -> bool:
        return (await cluster.condition("elsewhere", "Degraded")).get("reason") == "ReleaseNotFound"

    await eventually(degraded, what="Degraded: ReleaseNotFound")
    assert await cluster.overrides() == {}
    assert await fleet(cluster) == (CHART_MAX_REPLICAS, str(CHART_MAX_JOBS), None)


async def posted(cluster: Cluster, reason: str, kind: str = "Normal") -> bool:
    """Whether kopf posted a Kubernetes event with this reason (and type) for the LLMBudget."""
    return any(
        obj.raw.get("reason") == reason and obj.raw.get("type") == kind
        for (resource, _, _), obj in cluster.api.objects.items()
        if resource.plural == "events" and not obj.deleted
    )

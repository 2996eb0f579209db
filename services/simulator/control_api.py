"""The simulator's own controls (`/_sim/*`) and its metrics, for load tests and the tests of other services."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response
from prometheus_client import CONTENT_TYPE_LATEST, REGISTRY, CollectorRegistry, generate_latest

from services.simulator.faults import FaultSpec
from services.simulator.simulator import Simulator
from services.simulator.stats import StatsCollector


def control_router(simulator: Simulator) -> APIRouter:
    router = APIRouter(include_in_schema=False)
    own_metrics = CollectorRegistry(auto_describe=True)
    own_metrics.register(StatsCollector(simulator.stats))

    def pending() -> dict[str, Any]:
        return {"pending": [spec.model_dump() for spec in simulator.faults.pending()]}

    @router.get("/_sim/stats")
    async def stats() -> dict[str, int]:
        return simulator.stats.as_dict()

    @router.get("/_sim/faults")
    async def list_faults() -> dict[str, Any]:
        return pending()

    @router.post("/_sim/faults")
    async def arm_fault(spec: FaultSpec) -> dict[str, Any]:
        simulator.faults.arm(spec)
        return pending()

    @router.post("/_sim/reset")
    async def reset() -> dict[str, str]:
        simulator.reset()
        return {"status": "reset"}

    @router.get("/metrics")
    async def metrics() -> Response:
        """Process-wide HTTP metrics plus this instance's counters (registered per app, never globally)."""
        return Response(generate_latest(REGISTRY) + generate_latest(own_metrics), media_type=CONTENT_TYPE_LATEST)

    return router

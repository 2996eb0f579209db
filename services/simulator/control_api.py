"""The simulator's own controls (`/_sim/*`), for load tests and the tests of other services.

They can make every caller fail (a fault is armed for the whole simulator), so they need a token:
`SIM_CONTROL_TOKEN`, sent as `X-Sim-Control-Token`. Without a configured token they are off (403).
"""

from __future__ import annotations

import hmac
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Header

from services.simulator.errors import SimulatorError
from services.simulator.faults import FaultSpec
from services.simulator.simulator import Simulator

CONTROL_TOKEN_HEADER = "X-Sim-Control-Token"


def control_headers(token: str) -> dict[str, str]:
    """What a caller of `/_sim/*` sends."""
    return {CONTROL_TOKEN_HEADER: token}


def control_router(simulator: Simulator, token: str) -> APIRouter:
    async def authorised(given: Annotated[str, Header(alias=CONTROL_TOKEN_HEADER)] = "") -> None:
        if not token:
            raise SimulatorError(403, "permission_error", "the control API is off: SIM_CONTROL_TOKEN is not set")
        if not hmac.compare_digest(given.encode(), token.encode()):
            raise SimulatorError(401, "authentication_error", f"missing or invalid {CONTROL_TOKEN_HEADER}")

    router = APIRouter(include_in_schema=False, dependencies=[Depends(authorised)])

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

    return router

"""The simulator's control API (`/_sim/*`) as tests reach it: with its token, like the local stack's callers."""

from __future__ import annotations

from services.devstack.supervisor import Stack
from services.simulator.control_api import control_headers

SIM_CONTROL_TOKEN = "test-sim-control-token"
SIM_CONTROL_HEADERS = control_headers(SIM_CONTROL_TOKEN)


def stack_control_headers(stack: Stack) -> dict[str, str]:
    """The headers for the simulator of `stack`, which the supervisor gave a token of its own."""
    return control_headers(stack.env_used["SIM_CONTROL_TOKEN"])

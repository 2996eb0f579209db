"""Response bodies in the Messages API's shape, shared by plain JSON answers and the streamed events."""

from __future__ import annotations

from typing import Any

from services.simulator.cache import CachePlan
from services.simulator.simulator import SimulatedCall


def usage_body(plan: CachePlan, output_tokens: int) -> dict[str, Any]:
    return {
        "input_tokens": plan.input_tokens,
        "output_tokens": output_tokens,
        "cache_creation_input_tokens": plan.cache_creation_input_tokens,
        "cache_read_input_tokens": plan.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": plan.cache_creation_input_tokens,
            "ephemeral_1h_input_tokens": 0,
        },
        "service_tier": "standard",
    }


def message_body(turn: SimulatedCall, *, complete: bool) -> dict[str, Any]:
    """The whole message, or (`complete=False`) the empty shell that opens a stream."""
    answer = turn.answer
    return {
        "id": turn.message_id,
        "type": "message",
        "role": "assistant",
        "model": turn.model,
        "content": [block.body() for block in answer.blocks] if complete else [],
        "stop_reason": answer.stop_reason if complete else None,
        "stop_sequence": None,
        "usage": usage_body(turn.usage, answer.output_tokens if complete else 1),
    }

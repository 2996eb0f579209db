"""The baseline of the chat benchmark: a scope change made the way the product used to make it.

Before edit operations, a chat turn that changed the scope had Claude re-emit the whole estimate through
a `revise_estimate` tool (the complete `ClaudeEstimate` plus a reason, removed from the product since),
with the estimation's 8,000-token output allowance. This sends that request, built from the same
schema generation the product uses for its tools, through the real `anthropic` SDK straight to the
simulator, streamed, for the same scope-change messages the benchmark's users send; its output tokens
and duration are compared with the edit-mode revision turns of the same messages.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from typing import Any

from anthropic import AsyncAnthropic
from pydantic import Field

from loadtests.chat_seed import Seeded
from services.estimation.methodology import MODEL_DOCUMENT
from services.estimation.models import ClaudeEstimate
from services.estimation.prompt import build_chat_system
from services.estimation.rate_card import RateCard
from services.estimation.schema import _input_schema

REVISE_TOOL_NAME = "revise_estimate"
REEMIT_MAX_TOKENS = 8000


class EstimateRevision(ClaudeEstimate):
    """A chat turn that changes the estimate: the complete new estimate plus why it changed."""

    reason: str = Field(min_length=1, max_length=2000, description="What changed and why, for the history.")


def revise_tool(roles: list[str]) -> dict[str, Any]:
    """The tool as the product sent it before edit operations (same description, same schema generation)."""
    return {
        "name": REVISE_TOOL_NAME,
        "description": (
            "Replace the current estimate when the user asks for a change in scope, assumptions or hours. "
            "Send the complete new estimate (all work items, including unchanged ones, keeping their ids) "
            "and a short reason. Do not call it to answer questions that change nothing."
        ),
        "input_schema": _input_schema(EstimateRevision, roles),
    }


@dataclass
class BaselineCall:
    message: str
    output_tokens: int = 0
    duration_s: float = 0.0
    first_token_s: float | None = None
    stop_reason: str | None = None
    valid: bool = False
    error: str | None = None


async def reemit(client: AsyncAnthropic, model: str, seeded: Seeded, message: str) -> BaselineCall:
    call = BaselineCall(message)
    system = build_chat_system(MODEL_DOCUMENT, seeded.name, 1, seeded.estimate, seeded.financials)
    started = time.monotonic()
    try:
        async with client.messages.stream(
            model=model,
            max_tokens=REEMIT_MAX_TOKENS,
            system=system,  # type: ignore[arg-type]
            messages=[{"role": "user", "content": message}],
            tools=[revise_tool(list(RateCard().roles))],  # type: ignore[list-item]
            tool_choice={"type": "tool", "name": REVISE_TOOL_NAME},
        ) as stream:
            async for event in stream:
                if call.first_token_s is None and event.type == "content_block_delta":
                    call.first_token_s = time.monotonic() - started
            final = await stream.get_final_message()
    except Exception as exc:  # a baseline failure is reported, not fatal to the benchmark
        call.error = f"{type(exc).__name__}: {str(exc)[:200]}"
        call.duration_s = time.monotonic() - started
        return call
    call.duration_s = time.monotonic() - started
    call.output_tokens = final.usage.output_tokens
    call.stop_reason = final.stop_reason
    inputs = [block.input for block in final.content if block.type == "tool_use" and block.name == REVISE_TOOL_NAME]
    call.valid = bool(inputs) and _validates(inputs[0])
    return call


def _validates(tool_input: object) -> bool:
    try:
        EstimateRevision.model_validate(tool_input, context={"roles": list(RateCard().roles)})
    except ValueError:
        return False
    return True


async def run_baseline(sim_url: str, model: str, saves: list[Seeded], messages: list[str]) -> list[BaselineCall]:
    """Every message once, each on its own user's estimate, all at once (as the users would send them)."""
    client = AsyncAnthropic(base_url=sim_url, api_key="sk-simulated", max_retries=0, timeout=300)
    try:
        return list(
            await asyncio.gather(
                *(reemit(client, model, saves[i % len(saves)], message) for i, message in enumerate(messages))
            )
        )
    finally:
        await client.close()

"""One estimation call to Claude: the forced `submit_estimate` tool, validated into a ClaudeEstimate.

The call reserves a learned allowance (a high quantile of recent estimations' output), not
`ESTIMATE_MAX_TOKENS`: an idle 8,000-token reservation per estimation kept chat out of the budget.
A forced tool call cut at its allowance cannot be continued (its input is unfinished JSON), so the rare
estimation that needs more is asked again with the ceiling; both calls count in its usage. A fleet that
has measured fewer than ESTIMATE_PROBE_CALLS estimations runs only that many at once, so a burst on a
fresh fleet reserves from what they used rather than from the guess (`OutputAllowance.probing`).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import redis.asyncio as aioredis
from anthropic import AsyncAnthropic
from anthropic.types import Message
from pydantic import ValidationError

from services.estimation.models import ClaudeEstimate
from services.estimation.prompt import build_estimation_request
from services.estimation.schema import ESTIMATE_TOOL_NAME
from services.llm.allowance import OutputAllowance
from services.llm.budget import FleetBudget, LinePlace, Waiting, WaitListener, estimate_input_tokens
from services.llm.calls import ClaudeCallError, call_claude
from services.llm.metrics import FirstToken
from services.llm.pricing import price_for
from services.shared.contracts import Usage
from services.worker.settings import WorkerSettings

KIND = "estimate"


def estimate_allowance(redis: aioredis.Redis, settings: WorkerSettings) -> OutputAllowance:
    """The learner every worker (and anything reading what estimations reserve) shares."""
    return OutputAllowance(
        redis,
        f"{settings.llm_budget_prefix}:allowance",
        settings.estimate_allowance_quantile,
        floor=settings.estimate_min_tokens,
        ceiling=settings.estimate_max_tokens,
    )


def estimate_initial_tokens(settings: WorkerSettings) -> int:
    """A fresh fleet's first estimations all start before any has finished: at the ceiling, the chat
    benchmark's 50 of them reserved 400,000 output tokens (4.4 minutes of a Tier 2 limit) to use 75,000."""
    return min(settings.estimate_initial_tokens, settings.estimate_max_tokens)


async def estimate_with_claude(
    client: AsyncAnthropic,
    budget: FleetBudget,
    allowance: OutputAllowance,
    settings: WorkerSettings,
    requirements_md: str,
    repo_summary_md: str | None,
    deadline: float,
    on_wait: WaitListener | None = None,
) -> tuple[ClaudeEstimate, Usage]:
    """Streams the call (long outputs would otherwise hit idle-connection timeouts) and returns its usage."""
    roles = list(settings.rate_card.roles)
    request = build_estimation_request(requirements_md, repo_summary_md, roles)

    def call_with(max_tokens: int) -> Callable[[], Awaitable[Message]]:
        async def call() -> Message:
            async with client.messages.stream(
                model=settings.anthropic_model,
                max_tokens=max_tokens,
                system=request.system,  # type: ignore[arg-type]
                messages=request.messages,  # type: ignore[arg-type]
                tools=request.tools,  # type: ignore[arg-type]
                tool_choice=request.tool_choice,  # type: ignore[arg-type]
            ) as stream:
                first = FirstToken("estimate")
                async for event in stream:
                    if event.type == "content_block_delta":
                        first.arrived()
                return await stream.get_final_message()

        return call

    usage = Usage()
    place = LinePlace()  # asked again with the ceiling, it waits from when it first arrived

    async def waiting_for_probes(waiting: bool) -> None:
        if on_wait is not None:  # the job says it waits for capacity; how long is not known
            await on_wait(Waiting("first_estimates", 1, 0.0) if waiting else None)

    async with allowance.probing(KIND, settings.estimate_probe_calls, deadline, waiting_for_probes):
        max_tokens = await allowance.tokens(KIND, estimate_initial_tokens(settings))
        while True:
            try:
                message, spent = await call_claude(
                    budget,
                    call_with(max_tokens),
                    priority="estimate",
                    input_tokens=estimate_input_tokens(request.system, request.messages, request.tools),
                    max_tokens=max_tokens,
                    price=price_for(settings.model_prices, settings.anthropic_model),
                    model=settings.anthropic_model,
                    deadline=deadline,
                    cache_kind="estimate",
                    on_wait=on_wait,
                    place=place,
                )
            except ClaudeCallError as exc:
                # A call cut at its allowance was paid for even if the call asking again fails: it counts.
                if usage.calls:
                    exc.usage = usage + (exc.usage or Usage())
                raise
            usage = usage + spent
            if message.stop_reason != "max_tokens" or max_tokens >= allowance.ceiling:
                break
            max_tokens = allowance.ceiling
        await allowance.learn(KIND, spent.output_tokens)
    tool_inputs = [b.input for b in message.content if b.type == "tool_use" and b.name == ESTIMATE_TOOL_NAME]
    if not tool_inputs:
        raise ClaudeCallError("invalid_model_output", "Claude did not return an estimate", usage)
    try:
        return ClaudeEstimate.model_validate(tool_inputs[0], context={"roles": roles}), usage
    except ValidationError as exc:
        raise ClaudeCallError(
            "invalid_model_output", f"Claude's estimate was malformed: {exc.error_count()} errors", usage
        ) from exc

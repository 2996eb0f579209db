"""One estimation call to Claude: the forced `submit_estimate` tool, validated into a ClaudeEstimate."""

from __future__ import annotations

import time

from anthropic import AsyncAnthropic
from pydantic import ValidationError

from services.shared.claude import price_for, usage_of
from services.shared.claude_retry import ClaudeCallError, with_retries
from services.shared.contracts import Usage
from services.shared.estimation.models import ClaudeEstimate
from services.shared.estimation.prompt import build_estimation_request
from services.shared.estimation.schema import ESTIMATE_TOOL_NAME
from services.shared.settings import Settings


async def estimate_with_claude(
    client: AsyncAnthropic,
    settings: Settings,
    requirements_md: str,
    repo_summary_md: str | None,
    deadline: float,
) -> tuple[ClaudeEstimate, Usage]:
    """Streams the call (long outputs would otherwise hit idle-connection timeouts) and returns its usage."""
    roles = list(settings.rate_card.roles)
    request = build_estimation_request(requirements_md, repo_summary_md, roles)
    price = price_for(settings, settings.anthropic_model)

    async def call() -> tuple[ClaudeEstimate, Usage]:
        async with client.messages.stream(
            model=settings.anthropic_model,
            max_tokens=settings.estimate_max_tokens,
            system=request.system,  # type: ignore[arg-type]
            messages=request.messages,  # type: ignore[arg-type]
            tools=request.tools,  # type: ignore[arg-type]
            tool_choice=request.tool_choice,  # type: ignore[arg-type]
        ) as stream:
            message = await stream.get_final_message()
        usage = usage_of(message.usage, price)
        tool_inputs = [b.input for b in message.content if b.type == "tool_use" and b.name == ESTIMATE_TOOL_NAME]
        if not tool_inputs:
            raise ClaudeCallError("invalid_model_output", "Claude did not return an estimate")
        try:
            return ClaudeEstimate.model_validate(tool_inputs[0], context={"roles": roles}), usage
        except ValidationError as exc:
            raise ClaudeCallError(
                "invalid_model_output", f"Claude's estimate was malformed: {exc.error_count()} errors"
            ) from exc

    if time.monotonic() >= deadline:
        raise ClaudeCallError("deadline_exceeded", "the job ran out of time before calling Claude")
    return await with_retries(call, deadline)

"""One chat turn: Claude answers about the estimate and may revise it through the `revise_estimate` tool.

A revision is priced, cross-checked and reported by code exactly like the original estimate, then stored
with both messages in one transaction by the saves service, so history never holds half a turn.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from anthropic import AsyncAnthropic
from anthropic.types import Message
from pydantic import ValidationError

from services.chat.context import ChatContext
from services.estimation.bundle import build_bundle, stored_fields
from services.estimation.models import ClaudeEstimate, EstimateRevision, Financials
from services.estimation.prompt import build_chat_system
from services.estimation.schema import REVISE_TOOL_NAME, revise_tool
from services.llm.budget import estimate_input_tokens
from services.llm.calls import call_claude
from services.llm.pricing import price_for
from services.shared.contracts import (
    ChatMessageIn,
    ChatReply,
    ChatTurnCreate,
    RevisionCreate,
    SaveDetail,
    Usage,
)

HISTORY_MESSAGES = 20

TextSink = Callable[[str], Awaitable[None]]


async def _ignore(_: str) -> None:
    return None


@dataclass
class _Revision:
    revision: RevisionCreate
    tool_result: str


class Turn:
    """State of one turn: the messages sent so far, the text streamed and the usage spent."""

    def __init__(
        self, context: ChatContext, save: SaveDetail, methodology: str, on_text: TextSink, on_restart: TextSink
    ) -> None:
        self.context = context
        self.save = save
        self.methodology = methodology
        self.on_text = on_text
        self.on_restart = on_restart
        self.usage = Usage()
        self.reply_parts: list[str] = []
        self.deadline = time.monotonic() + context.settings.anthropic_timeout_s

    async def ask(self, messages: list[dict[str, Any]], tools: list[dict[str, Any]], max_tokens: int) -> Message:
        settings = self.context.settings
        client: AsyncAnthropic = self.context.claude
        system = build_chat_system(
            self.methodology,
            self.save.name,
            self.save.revision,
            ClaudeEstimate.model_validate(self.save.estimate_data),
            Financials.model_validate(self.save.financials_data),
        )
        streamed: list[str] = []

        async def call() -> Message:
            if streamed:
                streamed.clear()
                await self.on_restart("")
            async with client.messages.stream(
                model=settings.anthropic_model,
                max_tokens=max_tokens,
                system=system,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
                tools=tools,  # type: ignore[arg-type]
            ) as stream:
                async for delta in stream.text_stream:
                    streamed.append(delta)
                    await self.on_text(delta)
                return await stream.get_final_message()

        message, usage = await call_claude(
            self.context.budget,
            call,
            priority="chat",
            input_tokens=estimate_input_tokens(system, messages, tools),
            max_tokens=max_tokens,
            price=price_for(settings.model_prices, settings.anthropic_model),
            deadline=self.deadline,
            cache_kind="chat",
        )
        self.usage = self.usage + usage
        self.reply_parts.append("".join(b.text for b in message.content if b.type == "text"))
        return message

    def revise(self, tool_input: dict[str, Any]) -> _Revision | str:
        """The new revision, or the validation problems to hand back to Claude as a tool error."""
        try:
            revised = EstimateRevision.model_validate(
                tool_input, context={"roles": list(self.context.settings.rate_card.roles)}
            )
        except ValidationError as exc:
            return f"The revision was not valid and nothing was saved: {exc.error_count()} problems: {exc}"
        estimate = ClaudeEstimate.model_validate(revised.model_dump(exclude={"reason"}))
        bundle = build_bundle(
            name=self.save.name,
            estimate=estimate,
            requirements_md=self.save.requirements_md,
            repo=self.save.repository,
            rate_card=self.context.settings.rate_card,
            usage=None,
            revision=self.save.revision + 1,
        )
        revision = RevisionCreate(reason=revised.reason, **stored_fields(bundle))
        totals = bundle.totals
        summary = (
            f"Saved as revision {self.save.revision + 1}: expected {totals.expected_hours} h, "
            f"cost {totals.cost} {totals.currency}, price {totals.price} {totals.currency} (computed by code)."
        )
        return _Revision(revision=revision, tool_result=summary)


async def chat_turn(
    context: ChatContext,
    owner: str,
    job_id: str,
    message: str,
    on_text: TextSink = _ignore,
    on_restart: TextSink = _ignore,
) -> ChatReply:
    save = await context.saves.get_save_by_job(owner, job_id)
    history = await context.saves.chat_history(owner, job_id)
    methodology = await context.saves.methodology(save.methodology_version)
    turn = Turn(context, save, methodology.content, on_text, on_restart)
    messages: list[dict[str, Any]] = [
        {"role": m.role, "content": m.content} for m in history.messages[-HISTORY_MESSAGES:]
    ]
    messages.append({"role": "user", "content": message})
    tools = [revise_tool(list(context.settings.rate_card.roles))]
    # The first answer may be a whole revised estimate, so it gets the estimation's output allowance.
    first = await turn.ask(messages, tools, context.settings.estimate_max_tokens)
    revision: RevisionCreate | None = None
    tool_uses = [b for b in first.content if b.type == "tool_use" and b.name == REVISE_TOOL_NAME]
    if tool_uses:
        outcome = turn.revise(dict(tool_uses[0].input))
        is_error = isinstance(outcome, str)
        if isinstance(outcome, _Revision):
            revision = outcome.revision
        messages += [
            {"role": "assistant", "content": [b.model_dump(exclude_none=True) for b in first.content]},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_uses[0].id,
                        "content": outcome if isinstance(outcome, str) else outcome.tool_result,
                        "is_error": is_error,
                    }
                ],
            },
        ]
        await turn.ask(messages, tools, context.settings.chat_max_tokens)
    reply = "\n\n".join(part for part in turn.reply_parts if part).strip() or "(no answer)"
    stored = await context.saves.append_chat_turn(
        owner,
        job_id,
        ChatTurnCreate(
            user=ChatMessageIn(role="user", content=message, revision=save.revision),
            assistant=ChatMessageIn(
                role="assistant",
                content=reply,
                revision=save.revision + (1 if revision else 0),
                usage=turn.usage,
            ),
            revision=revision,
        ),
    )
    return ChatReply(reply=reply, revision=stored.revision, revised=revision is not None, usage=turn.usage)

"""One chat turn: Claude answers about the estimate and may change it through the `edit_estimate` tool.

The edit's operations are applied by code to the revision the turn was asked about, then priced,
cross-checked and reported exactly like the original estimate; the revision, its operations and both
messages are stored in one transaction by the saves service, so history never holds half a turn.
Once Claude has answered, the answer is paid for: a later failure (a follow-up call that finds no
capacity) still saves what was produced.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from anthropic import AsyncAnthropic

from services.chat.allowance import INITIAL, CallKind, TurnKind, allowance_kind, continued_kind, predict_kind
from services.chat.context import ChatContext
from services.chat.metrics import CONTINUATIONS, TURNS
from services.estimation.bundle import build_bundle, stored_fields
from services.estimation.edits import EditError, apply_edit, parse_edit
from services.estimation.models import ClaudeEstimate, Financials
from services.estimation.prompt import build_chat_system
from services.estimation.schema import EDIT_TOOL_NAME, edit_tool
from services.llm.budget import LinePlace, Waiting, WaitListener, estimate_input_tokens
from services.llm.calls import ClaudeCallError, call_claude
from services.llm.metrics import FirstToken
from services.llm.pricing import price_for
from services.shared.backoff import is_retryable
from services.shared.contracts import (
    ChatMessageIn,
    ChatReply,
    ChatTurnCreate,
    RevisionCreate,
    SaveDetail,
    Usage,
)
from services.shared.errors import ApiError

HISTORY_MESSAGES = 20
MAX_CONTINUATIONS = 3
MAX_TOOL_ROUNDS = 3

TextSink = Callable[[str], Awaitable[None]]


async def _ignore(_: Any) -> None:
    return None


@dataclass
class TurnEvents:
    """What a streaming client is told: text as it arrives, the text to restart from, and waiting."""

    text: TextSink = _ignore
    restart: TextSink = _ignore
    wait: WaitListener = _ignore


@dataclass
class Answer:
    """One logical Claude answer: its blocks (continuations merged in) and why it stopped."""

    blocks: list[dict[str, Any]] = field(default_factory=list)
    stop_reason: str | None = None

    @property
    def text(self) -> str:
        return "".join(block["text"] for block in self.blocks if block["type"] == "text")

    def tool_use(self) -> dict[str, Any] | None:
        return next((b for b in self.blocks if b["type"] == "tool_use" and b["name"] == EDIT_TOOL_NAME), None)

    def extend(self, blocks: list[dict[str, Any]], stop_reason: str | None) -> None:
        """Adds a continuation's blocks; text continuing the last text block joins it."""
        for block in blocks:
            if block["type"] == "text" and self.blocks and self.blocks[-1]["type"] == "text":
                self.blocks[-1] = {"type": "text", "text": self.blocks[-1]["text"] + block["text"]}
            else:
                self.blocks.append(block)
        self.stop_reason = stop_reason

    def prefill(self) -> dict[str, Any] | None:
        """The partial answer sent back so Claude continues it; an unfinished tool call is dropped
        (its input was cut mid-way) and Claude makes it again whole."""
        complete = [b for b in self.blocks if b["type"] == "text"]
        text = "".join(b["text"] for b in complete).rstrip()
        self.blocks = [{"type": "text", "text": text}] if text else []
        return {"role": "assistant", "content": text} if text else None


@dataclass
class _Draft:
    """The estimate as edited so far in this turn, and the operations that made it."""

    estimate: ClaudeEstimate
    operations: list[dict[str, Any]] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)


class Turn:
    """State of one turn: the text streamed, the usage spent, and whether anything was paid for yet."""

    def __init__(
        self, context: ChatContext, save: SaveDetail, methodology: str, kind: TurnKind, events: TurnEvents
    ) -> None:
        self.context = context
        self.save = save
        self.kind = kind
        self.events = events
        self.usage = Usage()
        self.sent = ""
        self.last_wait: Waiting | None = None
        now = time.monotonic()
        self.deadline = now + context.settings.anthropic_timeout_s
        self.admit_by: float | None = now + context.settings.chat_max_wait_s
        self.place = LinePlace()  # every call of the turn waits from when the turn arrived
        self.system = build_chat_system(
            methodology,
            save.name,
            save.revision,
            ClaudeEstimate.model_validate(save.estimate_data),
            Financials.model_validate(save.financials_data),
        )
        self.tools = [edit_tool(list(context.settings.rate_card.roles))]

    async def say(self, text: str) -> None:
        """Text the client is sent and the reply will hold."""
        self.sent += text
        await self.events.text(text)

    async def _on_wait(self, wait: Waiting | None) -> None:
        self.last_wait = wait or self.last_wait
        await self.events.wait(wait)

    async def ask(self, messages: list[dict[str, Any]], call: CallKind) -> Answer:
        """One answer, continued while it stops at `max_tokens`, so the allowance never truncates it."""
        allowance = self.context.allowance
        kind = allowance_kind(self.kind, call)
        learned = await allowance.tokens(kind, INITIAL[(self.kind, call)])
        if self.sent.strip():
            await self.say("\n\n")
        answer = Answer()
        output = first_output = 0
        for attempt in range(MAX_CONTINUATIONS + 1):
            prefill = answer.prefill() if attempt else None
            max_tokens = learned
            if attempt:
                CONTINUATIONS.labels(self.kind).inc()
                # What the rest of an answer needs is learned apart: it is mostly a few sentences, and
                # reserving the first call's allowance again would waste most of it. Only the last may
                # take the ceiling.
                rest = await allowance.tokens(continued_kind(kind), learned)
                max_tokens = allowance.ceiling if attempt == MAX_CONTINUATIONS else rest
            try:
                blocks, stop_reason, used = await self._call([*messages, *([prefill] if prefill else [])], max_tokens)
            except ClaudeCallError:
                if not attempt:
                    raise
                # What the earlier calls wrote is paid for and already streamed: keep it, cut as it is.
                break
            answer.extend(blocks, stop_reason)
            output += used
            if not attempt:
                first_output = used
            if stop_reason != "max_tokens":
                break
        await allowance.learn(kind, output)
        if output > first_output:
            await allowance.learn(continued_kind(kind), output - first_output)
        return answer

    async def _call(
        self, messages: list[dict[str, Any]], max_tokens: int
    ) -> tuple[list[dict[str, Any]], str | None, int]:
        settings = self.context.settings
        client: AsyncAnthropic = self.context.claude
        checkpoint = self.sent

        async def call() -> Any:
            if self.sent != checkpoint:
                # A retried attempt streams its text again from the start: the client rewinds first.
                self.sent = checkpoint
                await self.events.restart(checkpoint)
            async with client.messages.stream(
                model=settings.anthropic_model,
                max_tokens=max_tokens,
                system=self.system,  # type: ignore[arg-type]
                messages=messages,  # type: ignore[arg-type]
                tools=self.tools,  # type: ignore[arg-type]
            ) as stream:
                first = FirstToken("chat")
                async for event in stream:
                    if event.type == "content_block_delta":
                        first.arrived()  # text or an edit's JSON: Claude has started answering
                    elif event.type == "text":
                        await self.say(event.text)
                return await stream.get_final_message()

        message, usage = await call_claude(
            self.context.budget,
            call,
            priority="chat",
            input_tokens=estimate_input_tokens(self.system, messages, self.tools),
            max_tokens=max_tokens,
            price=price_for(settings.model_prices, settings.anthropic_model),
            model=settings.anthropic_model,
            deadline=self.deadline,
            cache_kind="chat",
            on_wait=self._on_wait,
            admit_by=self.admit_by,
            place=self.place,
        )
        # Only the turn's first call may be refused for want of capacity: after it, Claude's work is
        # paid for and the turn waits as long as its deadline allows to finish it.
        self.admit_by = None
        self.usage = self.usage + usage
        blocks = [block.model_dump(mode="json", exclude_none=True) for block in message.content]
        return blocks, message.stop_reason, usage.output_tokens

    def apply(self, draft: _Draft, tool_input: object) -> str | None:
        """Applies an edit to the draft; the problems to hand back to Claude, or None when it applied."""
        try:
            edit = parse_edit(tool_input)
            draft.estimate = apply_edit(draft.estimate, edit, self.context.settings.rate_card.roles)
        except EditError as exc:
            return "The edit was not applied and nothing was saved. Problems: " + "; ".join(exc.problems)
        draft.operations += [op.model_dump(mode="json") for op in edit.operations]
        draft.reasons.append(edit.reason)
        return None

    def revision(self, draft: _Draft) -> RevisionCreate:
        bundle = build_bundle(
            name=self.save.name,
            estimate=draft.estimate,
            requirements_md=self.save.requirements_md,
            repo=self.save.repository,
            rate_card=self.context.settings.rate_card,
            usage=None,
            revision=self.save.revision + 1,
        )
        return RevisionCreate(
            reason=" ".join(draft.reasons)[:2000], operations=draft.operations, **stored_fields(bundle)
        )


def _summary(revision: RevisionCreate, number: int) -> str:
    totals = revision.totals
    return (
        f"Saved as revision {number}: expected {totals.expected_hours} h, cost {totals.cost} {totals.currency}, "
        f"price {totals.price} {totals.currency} (computed by code)."
    )


async def _edit_rounds(turn: Turn, messages: list[dict[str, Any]], answer: Answer) -> RevisionCreate | None:
    """Applies Claude's edits, hands the outcome back as the tool result, and lets Claude say what changed.

    An edit that cannot be applied goes back as a tool error, and Claude may correct it, a few times.
    """
    draft = _Draft(ClaudeEstimate.model_validate(turn.save.estimate_data))
    revision: RevisionCreate | None = None
    rounds = 0
    while (tool_use := answer.tool_use()) is not None and rounds < MAX_TOOL_ROUNDS:
        rounds += 1
        problems = turn.apply(draft, tool_use["input"])
        if problems is None:
            revision = turn.revision(draft)
        result = problems or _summary(revision, turn.save.revision + 1)  # type: ignore[arg-type]
        messages += [
            {"role": "assistant", "content": answer.blocks},
            {
                "role": "user",
                "content": [
                    {
                        "type": "tool_result",
                        "tool_use_id": tool_use["id"],
                        "content": result,
                        "is_error": bool(problems),
                    }
                ],
            },
        ]
        try:
            answer = await turn.ask(messages, "follow")
        except ClaudeCallError:
            # The edit itself is paid for and valid: keep it, and say in code what Claude could not.
            await turn.say(("\n\n" if turn.sent.strip() else "") + result)
            break
    return revision


async def chat_turn(
    context: ChatContext, owner: str, job_id: str, message: str, events: TurnEvents | None = None
) -> ChatReply:
    events = events or TurnEvents()
    save = await context.saves.get_save_by_job(owner, job_id)
    history = await context.saves.chat_history(owner, job_id)
    methodology = await context.saves.methodology(save.methodology_version)
    kind = predict_kind(message)
    turn = Turn(context, save, methodology.content, kind, events)
    messages: list[dict[str, Any]] = [
        {"role": m.role, "content": m.content} for m in history.messages[-HISTORY_MESSAGES:]
    ]
    messages.append({"role": "user", "content": message})
    try:
        first = await turn.ask(messages, "first")
    except ClaudeCallError as exc:
        TURNS.labels(kind, exc.code).inc()
        if exc.code == "claude_busy" and turn.last_wait is not None:
            raise ApiError(
                503,
                "claude_busy",
                "Claude capacity is fully used; nothing was charged. Try again shortly.",
                headers={"Retry-After": str(max(1, round(turn.last_wait.expected_s)))},
            ) from exc
        raise
    revision = await _edit_rounds(turn, messages, first)
    reply = turn.sent.strip() or "(no answer)"
    try:
        stored = await _store(context, owner, job_id, save, message, reply, turn.usage, revision)
    except NotYetStored:
        TURNS.labels(kind, "kept_unstored").inc()
        raise
    TURNS.labels(kind, "revised" if stored.revised else "answered").inc()
    return stored


async def _store(
    context: ChatContext,
    owner: str,
    job_id: str,
    save: SaveDetail,
    message: str,
    reply: str,
    usage: Usage,
    revision: RevisionCreate | None,
) -> ChatReply:
    """Stores the turn on the revision it was asked about; if the save moved on meanwhile (another
    replica's turn, after a lost lease), the reply is kept and the stale edit is not applied."""

    def turn_of(text: str, change: RevisionCreate | None) -> ChatTurnCreate:
        return ChatTurnCreate(
            user=ChatMessageIn(role="user", content=message, revision=save.revision),
            assistant=ChatMessageIn(
                role="assistant", content=text, revision=save.revision + (1 if change else 0), usage=usage
            ),
            revision=change,
            base_revision=save.revision,
        )

    async def append(text: str, change: RevisionCreate | None) -> SaveDetail:
        turn = turn_of(text, change)
        try:
            return await context.saves.append_chat_turn(owner, job_id, turn)
        except ApiError as exc:
            if not is_retryable(exc):
                raise
            # Claude's answer is paid for: keep the turn to store it later rather than lose it.
            answered = ChatReply(
                reply=text, revision=turn_revision(save, change), revised=change is not None, usage=usage, stored=False
            )
            raise NotYetStored(answered, turn) from exc

    try:
        stored = await append(reply, revision)
    except ApiError as exc:
        if exc.code != "revision_conflict":
            raise
        reply, revision = with_conflict_note(reply, save.revision), None
        stored = await append(reply, None)
    return ChatReply(reply=reply, revision=stored.revision, revised=revision is not None, usage=usage)


def turn_revision(save: SaveDetail, revision: RevisionCreate | None) -> int:
    return save.revision + (1 if revision else 0)


def with_conflict_note(reply: str, base_revision: int) -> str:
    return reply + (
        f"\n\n(This change was not saved: the estimate moved past revision {base_revision} while it was "
        "prepared. Ask again to apply it to the current revision.)"
    )


class NotYetStored(Exception):
    """Claude answered but the saves service could not store the turn (5xx or unreachable): the reply, to
    tell the client, and the turn, to keep and store later (`services/chat/pending.py`)."""

    def __init__(self, reply: ChatReply, turn: ChatTurnCreate) -> None:
        super().__init__("the turn is not stored yet")
        self.reply = reply
        self.turn = turn

"""Server-sent events in the order and shape Anthropic streams them, paced like a model generating text."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

from sse_starlette import ServerSentEvent

from services.simulator.errors import error_body
from services.simulator.payloads import message_body, usage_body
from services.simulator.responder import Block, TextOut
from services.simulator.simulator import SimulatedCall
from services.simulator.tokens import CHARS_PER_TOKEN, tokens_for_chars

_WORDS_PER_DELTA = 3
_JSON_CHARS_PER_DELTA = 48
_WORD = re.compile(r"\s*\S+\s*")
_DELTA_USAGE_KEYS = ("input_tokens", "output_tokens", "cache_creation_input_tokens", "cache_read_input_tokens")


@dataclass(frozen=True)
class Pacing:
    """Output arrives at `tokens_per_second` after `first_token_latency_s`, as a model's would."""

    tokens_per_second: float
    first_token_latency_s: float

    def seconds_for(self, chars: int) -> float:
        return chars / CHARS_PER_TOKEN / self.tokens_per_second

    def seconds_for_answer(self, output_tokens: int) -> float:
        return self.first_token_latency_s + output_tokens / self.tokens_per_second


async def pause(seconds: float) -> None:
    if seconds > 0:
        await asyncio.sleep(seconds)


def _pieces(block: Block) -> list[str]:
    if isinstance(block, TextOut):
        words = _WORD.findall(block.text)
        return ["".join(words[i : i + _WORDS_PER_DELTA]) for i in range(0, len(words), _WORDS_PER_DELTA)]
    text = block.json_text
    return [text[i : i + _JSON_CHARS_PER_DELTA] for i in range(0, len(text), _JSON_CHARS_PER_DELTA)]


def _opening(block: Block) -> dict[str, Any]:
    if isinstance(block, TextOut):
        return {"type": "text", "text": ""}
    return {"type": "tool_use", "id": block.id, "name": block.name, "input": {}}


def _delta(block: Block, piece: str) -> dict[str, Any]:
    if isinstance(block, TextOut):
        return {"type": "text_delta", "text": piece}
    return {"type": "input_json_delta", "partial_json": piece}


def event(name: str, **fields: Any) -> ServerSentEvent:
    return ServerSentEvent(event=name, data=json.dumps({"type": name, **fields}, ensure_ascii=False))


def ping() -> ServerSentEvent:
    return event("ping")


async def message_events(
    turn: SimulatedCall, pacing: Pacing, on_finish: Callable[[int], None]
) -> AsyncIterator[ServerSentEvent]:
    """A turn marked `fail_mid_stream` stops half-way through its first block with an overloaded error.

    `on_finish` always learns how many output tokens went out, even when the client hangs up early.
    """
    answer = turn.answer
    streamed_chars = 0
    completed = False
    try:
        yield event("message_start", message=message_body(turn, complete=False))
        await pause(pacing.first_token_latency_s)
        for index, block in enumerate(answer.blocks):
            yield event("content_block_start", index=index, content_block=_opening(block))
            if index == 0:
                yield ping()
            pieces = _pieces(block)
            if turn.fail_mid_stream:
                pieces = pieces[: max(1, len(pieces) // 2)]
            for piece in pieces:
                await pause(pacing.seconds_for(len(piece)))
                streamed_chars += len(piece)
                yield event("content_block_delta", index=index, delta=_delta(block, piece))
            if turn.fail_mid_stream:
                body = error_body("overloaded_error", "Overloaded")
                yield ServerSentEvent(event="error", data=json.dumps(body))
                return
            yield event("content_block_stop", index=index)
        completed = True
        usage = usage_body(turn.usage, answer.output_tokens)
        yield event(
            "message_delta",
            delta={"stop_reason": answer.stop_reason, "stop_sequence": None},
            usage={key: usage[key] for key in _DELTA_USAGE_KEYS},
        )
        yield event("message_stop")
    finally:
        on_finish(answer.output_tokens if completed else tokens_for_chars(streamed_chars))

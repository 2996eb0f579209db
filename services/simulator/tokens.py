"""Token counts the simulator bills and rate-limits with.

A deterministic ~4 characters per token over a canonical serialization stands in for the real tokenizer:
close enough for load-test arithmetic, and the same request always costs the same.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from typing import Any

from services.simulator.wire import CountTokensRequest

CHARS_PER_TOKEN = 4


def tokens_for_chars(chars: int) -> int:
    return math.ceil(chars / CHARS_PER_TOKEN)


def approx_tokens(text: str) -> int:
    return tokens_for_chars(len(text))


@dataclass(frozen=True)
class Segment:
    """One tool, system block or message block, in prompt order; `breakpoint` marks `cache_control` on it."""

    text: str
    tokens: int
    breakpoint: bool


def _canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False, separators=(",", ":"))


def _block_segment(prefix: str, block: dict[str, Any]) -> Segment:
    marked = block.get("cache_control") is not None
    text = prefix + _canonical({k: v for k, v in block.items() if k != "cache_control"})
    return Segment(text, approx_tokens(text), marked)


def _text_segment(text: str) -> Segment:
    return Segment(text, approx_tokens(text), False)


def prompt_segments(request: CountTokensRequest) -> list[Segment]:
    """Tools, then system, then messages: the order in which Anthropic matches cached prefixes."""
    segments = [
        _block_segment("tool:", tool.model_dump(mode="json", by_alias=True, exclude_none=True))
        for tool in request.tools or []
    ]
    if isinstance(request.system, str):
        segments.append(_text_segment(f"system:{request.system}"))
    elif request.system:
        segments.extend(_block_segment("system:", block) for block in request.system)
    for message in request.messages:
        if isinstance(message.content, str):
            segments.append(_text_segment(f"{message.role}:{message.content}"))
        else:
            segments.extend(_block_segment(f"{message.role}:", block) for block in message.content)
    settings = request.model_dump(mode="json", by_alias=True, include={"tool_choice", "output_config"})
    if any(settings.values()):
        segments.append(_text_segment(_canonical(settings)))
    return segments


def count_input_tokens(request: CountTokensRequest) -> int:
    return sum(segment.tokens for segment in prompt_segments(request))

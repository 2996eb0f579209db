"""The text an answer is built from: the user's question and the outline of their requirements.

Answers quote the request back (headings, bullets, the question) so that what a test or a person reads is
recognisably about what they sent, and the same request always yields the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from services.simulator.wire import CountTokensRequest, MessageIn

_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+(?P<text>.+?)\s*#*\s*$")
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+(?:\[[ xX]\]\s+)?(?P<text>.+?)\s*$")
_REQUIREMENTS = re.compile(r"<requirements>(?P<text>.*?)</requirements>", re.DOTALL | re.IGNORECASE)
_TAGGED = re.compile(r"<(?P<tag>[a-z][\w-]*)>(?P<text>.*?)</(?P=tag)>", re.DOTALL | re.IGNORECASE)
_EMPTY_NOTES = {"none", "n/a", "-"}
_LINK = re.compile(r"\[([^\]]*)\]\([^)]*\)")
_EMPHASIS = re.compile(r"[*_`]+")
_FALLBACK_LINES = 12


def block_text(blocks: str | list[dict[str, Any]]) -> str:
    """Readable text of message content, including what tool results said."""
    if isinstance(blocks, str):
        return blocks
    parts = []
    for block in blocks:
        if block.get("type") == "text":
            parts.append(str(block.get("text", "")))
        elif block.get("type") == "tool_result":
            parts.append(block_text(block.get("content") or ""))
    return "\n".join(part for part in parts if part)


def _clean(line: str) -> str:
    return _EMPHASIS.sub("", _LINK.sub(r"\1", line)).strip().rstrip(":")


def _title_of(text: str) -> str:
    """A table-like row (`id | role | hours | title`) is named by its last cell."""
    cells = [cell.strip() for cell in text.split(" | ")]
    return _clean(next((cell for cell in reversed(cells) if cell), ""))


def outline(text: str) -> list[str]:
    """Markdown headings and bullet lines, in order and without repeats: one line per piece of work."""
    lines: list[str] = []
    for raw in text.splitlines():
        match = _HEADING.match(raw) or _BULLET.match(raw)
        line = _title_of(match.group("text")) if match else ""
        if line and line.lower() not in _EMPTY_NOTES and line not in lines:
            lines.append(line)
    return lines


def _plain_lines(text: str) -> list[str]:
    lines = [_clean(raw) for raw in text.splitlines()]
    return list(dict.fromkeys(line for line in lines if line))[:_FALLBACK_LINES]


def _last_match(pattern: re.Pattern[str], texts: Iterable[str]) -> str | None:
    found = [match.group("text") for text in texts for match in pattern.finditer(text)]
    return found[-1] if found else None


def last_user(messages: list[MessageIn]) -> MessageIn | None:
    return next((m for m in reversed(messages) if m.role == "user"), None)


def has_tool_result(message: MessageIn | None) -> bool:
    if message is None or isinstance(message.content, str):
        return False
    return any(block.get("type") == "tool_result" for block in message.content)


@dataclass(frozen=True)
class Material:
    """`question` is the prose of the last user message (no requirements, no outline lines); `lines` is the
    requirements' outline."""

    question: str
    lines: list[str]


def gather(request: CountTokensRequest) -> Material:
    """Requirements come from `<requirements>` tags in the last user message, else anywhere in the
    conversation, else from the last tagged data block (a chat keeps `<current_estimate>` in its system
    prompt), else from the last user message itself."""
    message = last_user(request.messages)
    last_text = block_text(message.content) if message else ""
    system = request.system if isinstance(request.system, str) else block_text(request.system or [])
    conversation = [system, *(block_text(m.content) for m in request.messages)]
    requirements = (
        _last_match(_REQUIREMENTS, [last_text])
        or _last_match(_REQUIREMENTS, conversation)
        or _last_match(_TAGGED, conversation)
    )
    asked = _REQUIREMENTS.sub("", last_text).strip()
    prose = "\n".join(raw for raw in asked.splitlines() if not (_HEADING.match(raw) or _BULLET.match(raw)))
    source = requirements if requirements is not None else last_text
    return Material(question=prose.strip() or asked, lines=outline(source) or _plain_lines(source))

"""What "Claude" answers: which blocks, in what order, and why it stopped.

The rules mirror how the project uses the API: a forced tool gets a schema-filled call, a chat turn that asks
for a change calls the revise/update tool, a tool result gets a summary, anything else a readable paragraph.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, replace
from typing import Any

from jiter import from_json

from services.simulator.material import Material, block_text, gather, has_tool_result, last_user
from services.simulator.schema_fill import SchemaFiller
from services.simulator.tokens import CHARS_PER_TOKEN, tokens_for_chars
from services.simulator.wire import MessageIn, MessagesRequest, ToolIn

_CHANGE = re.compile(
    r"\b(add|remove|increase|reduce|change|revise|drop|delete|decrease|update|cut|raise|lower)\b", re.I
)
_REMOVAL = re.compile(r"\b(remove|drop|delete|cut)\b", re.I)
_ADDITION = re.compile(r"^\W*(?:please\W+)?(?:add|include)\W+(?:(?:a|an|the)\W+)?", re.I)
_WORD = re.compile(r"[a-z0-9]{4,}")
_EXCERPT_CHARS = 300


@dataclass(frozen=True)
class TextOut:
    text: str

    @property
    def payload_text(self) -> str:
        return self.text

    def cut(self, chars: int) -> TextOut:
        return TextOut(self.text[:chars])

    def body(self) -> dict[str, Any]:
        return {"type": "text", "text": self.text}


@dataclass(frozen=True)
class ToolUseOut:
    """`json_text` is the input as generated, which `max_tokens` may have cut off mid-way."""

    id: str
    name: str
    json_text: str

    @property
    def payload_text(self) -> str:
        return self.json_text

    def cut(self, chars: int) -> ToolUseOut:
        return replace(self, json_text=self.json_text[:chars])

    def input(self) -> dict[str, Any]:
        parsed = from_json(self.json_text.encode(), partial_mode=True) if self.json_text else {}
        return parsed if isinstance(parsed, dict) else {}

    def body(self) -> dict[str, Any]:
        return {"type": "tool_use", "id": self.id, "name": self.name, "input": self.input()}


Block = TextOut | ToolUseOut


@dataclass(frozen=True)
class Answer:
    blocks: tuple[Block, ...]
    stop_reason: str
    output_tokens: int


def _excerpt(text: str) -> str:
    flat = " ".join(text.split())
    return flat if len(flat) <= _EXCERPT_CHARS else flat[: _EXCERPT_CHARS - 1].rstrip() + "…"


def _quoted(lines: list[str]) -> str:
    quoted = [f'"{line}"' for line in lines]
    return quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"


def _reply(material: Material) -> str:
    question = _excerpt(material.question) or "to look at this request"
    sentences = [f'You asked: "{question}".']
    if material.lines:
        sentences.append(f"The request covers {len(material.lines)} points, including {_quoted(material.lines[:3])}.")
    sentences.append(
        "Each of them can be estimated and delivered on its own; ask me to add, remove or resize any of "
        "them and I will revise the estimate."
    )
    return " ".join(sentences)


def _tool_result_summary(message: MessageIn) -> str:
    blocks = [] if isinstance(message.content, str) else message.content
    results = [block for block in blocks if block.get("type") == "tool_result"]
    failed = any(block.get("is_error") for block in results)
    reported = _excerpt(" ".join(block_text(block.get("content") or "") for block in results)) or "no details"
    if failed:
        return f'The change could not be applied. The tool reported: "{reported}".'
    return f'The change is applied. The tool reported: "{reported}".'


def _revised(material: Material) -> Material:
    """The requirements outline with the user's requested change applied, for a revise/update tool call."""
    request = re.split(r"(?<=[.?!])\s|\n", material.question.strip(), maxsplit=1)[0].strip(" .!?")
    if _REMOVAL.search(request):
        asked = set(_WORD.findall(request.lower())) - {m.lower() for m in _CHANGE.findall(request)}
        needed = min(2, len(asked))
        kept = [line for line in material.lines if len(asked & set(_WORD.findall(line.lower()))) < needed]
        return replace(material, lines=kept or material.lines)
    addition = _ADDITION.sub("", request)
    if addition != request and addition:
        return replace(material, lines=[*material.lines, addition[:1].upper() + addition[1:120]])
    return material


def _is_revision_tool(tool: ToolIn) -> bool:
    return tool.name.lower().startswith(("revise", "update"))


def _tool_call(tool: ToolIn, material: Material) -> ToolUseOut:
    if _is_revision_tool(tool) and _CHANGE.search(material.question):
        material = _revised(material)
    tool_input = SchemaFiller(tool.input_schema, material).fill()
    return ToolUseOut(f"toolu_sim_{uuid.uuid4().hex[:24]}", tool.name, json.dumps(tool_input, ensure_ascii=False))


def _draft(request: MessagesRequest) -> tuple[list[Block], str]:
    material = gather(request)
    forced = request.forced_tool()
    if forced is not None:
        return [_tool_call(forced, material)], "tool_use"
    choice = request.tool_choice.type if request.tool_choice else "auto"
    tools = [] if choice == "none" else request.tools or []
    wants_change = _CHANGE.search(material.question) is not None
    revision_tool = next((tool for tool in tools if _is_revision_tool(tool)), None)
    if tools and choice == "any":
        return [_tool_call(revision_tool if wants_change and revision_tool else tools[0], material)], "tool_use"
    last = last_user(request.messages)
    if revision_tool and wants_change and not has_tool_result(last):
        preface = TextOut(f"I'll revise the estimate as you asked: {_excerpt(material.question)}")
        return [preface, _tool_call(revision_tool, material)], "tool_use"
    schema = request.output_schema()
    if schema is not None:
        return [TextOut(json.dumps(SchemaFiller(schema, material).fill(), ensure_ascii=False))], "end_turn"
    if last is not None and has_tool_result(last):
        return [TextOut(_tool_result_summary(last))], "end_turn"
    return [TextOut(_reply(material))], "end_turn"


def compose(request: MessagesRequest) -> Answer:
    """Same request, same content; output beyond `max_tokens` is cut off and the stop reason says so."""
    blocks, stop_reason = _draft(request)
    budget = request.max_tokens * CHARS_PER_TOKEN
    fitted: list[Block] = []
    for block in blocks:
        if budget <= 0:
            stop_reason = "max_tokens"
            break
        if len(block.payload_text) > budget:
            block, stop_reason = block.cut(budget), "max_tokens"
        fitted.append(block)
        budget -= len(block.payload_text)
    produced = sum(len(block.payload_text) for block in fitted)
    return Answer(tuple(fitted), stop_reason, max(1, tokens_for_chars(produced)))

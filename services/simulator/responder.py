"""What "Claude" answers: which blocks, in what order, and why it stopped.

The rules mirror how the project uses the API: a forced tool gets a schema-filled call; a chat turn that
asks for a change says in one sentence what it will do and calls the edit tool with a few operations; a
tool result gets a sentence quoting it; anything else a short paragraph. A request whose last message is
the assistant's (a prefill) gets the rest of the answer it continues.
"""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, replace
from typing import Any

from jiter import from_json

from services.simulator.current_estimate import CurrentEstimate, read_current_estimate
from services.simulator.edit_plan import Edit, change_request, plan_edit
from services.simulator.material import Material, block_text, gather, has_tool_result, last_user
from services.simulator.replies import answer, confirmation
from services.simulator.schema_fill import SchemaFiller
from services.simulator.tokens import CHARS_PER_TOKEN, tokens_for_chars
from services.simulator.wire import MessagesRequest, ToolIn


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


def _is_edit_tool(tool: ToolIn) -> bool:
    return tool.name.lower().startswith("edit")


def _tool_use(tool: ToolIn, tool_input: dict[str, Any]) -> ToolUseOut:
    return ToolUseOut(f"toolu_sim_{uuid.uuid4().hex[:24]}", tool.name, json.dumps(tool_input, ensure_ascii=False))


def _tool_call(tool: ToolIn, material: Material, estimate: CurrentEstimate | None) -> ToolUseOut:
    """A call the request insists on: the edit it asks for when the tool is an edit tool and it asks for
    one, otherwise input filled from the tool's schema."""
    if _is_edit_tool(tool):
        edit = plan_edit(material.question, estimate, tool.input_schema)
        if isinstance(edit, Edit):
            return _tool_use(tool, edit.tool_input)
    return _tool_use(tool, SchemaFiller(tool.input_schema, material).fill())


def _draft(request: MessagesRequest) -> tuple[list[Block], str]:
    material = gather(request)
    estimate = read_current_estimate(request)
    forced = request.forced_tool()
    if forced is not None:
        return [_tool_call(forced, material, estimate)], "tool_use"
    choice = request.tool_choice.type if request.tool_choice else "auto"
    tools = [] if choice == "none" else request.tools or []
    last = last_user(request.messages)
    after_result = has_tool_result(last)
    wants_change = not after_result and change_request(material.question) is not None
    edit_tool = next((tool for tool in tools if _is_edit_tool(tool)), None)
    if tools and choice == "any":
        return [_tool_call(edit_tool if wants_change and edit_tool else tools[0], material, estimate)], "tool_use"
    if edit_tool and wants_change:
        edit = plan_edit(material.question, estimate, edit_tool.input_schema)
        if isinstance(edit, Edit):
            return [TextOut(edit.preface), _tool_use(edit_tool, edit.tool_input)], "tool_use"
        if isinstance(edit, str):
            return [TextOut(edit)], "end_turn"
    schema = request.output_schema()
    if schema is not None:
        return [TextOut(json.dumps(SchemaFiller(schema, material).fill(), ensure_ascii=False))], "end_turn"
    if after_result:
        return [TextOut(confirmation(request.messages))], "end_turn"
    return [TextOut(answer(material, estimate))], "end_turn"


def _prefill(request: MessagesRequest) -> str | None:
    """The text of a last assistant message, which the answer must continue rather than repeat."""
    last = request.messages[-1]
    return block_text(last.content) if last.role == "assistant" else None


def _continued(blocks: list[Block], prefill: str) -> list[Block]:
    """The draft without the text the prefill already said.

    The API refuses a prefill ending in whitespace, so callers strip it: the prefill is matched without
    its trailing whitespace, and the continuation starts with whatever whitespace the draft has there
    (none if the prefill kept its own). A prefill the draft does not start with is followed by the draft
    as a new sentence.
    """
    said = prefill.rstrip()
    kept_space = said != prefill
    rest: list[Block] = []
    for block in blocks:
        if said and isinstance(block, TextOut):
            if block.text.startswith(said):
                remainder = block.text[len(said) :]
                said = ""
                block = TextOut(remainder.lstrip() if kept_space else remainder)
            elif said.startswith(block.text):
                said = said[len(block.text) :]
                continue
            else:
                said = ""
                block = TextOut(block.text if kept_space or block.text[:1].isspace() else " " + block.text)
            if not block.text.strip():
                continue
        rest.append(block)
    return rest


def compose(request: MessagesRequest) -> Answer:
    """Same request, same content; output beyond `max_tokens` is cut off and the stop reason says so."""
    prefill = _prefill(request)
    if prefill is None:
        blocks, stop_reason = _draft(request)
    else:
        blocks, stop_reason = _draft(request.model_copy(update={"messages": request.messages[:-1]}))
        blocks = _continued(blocks, prefill)
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

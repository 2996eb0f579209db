"""What the simulated Claude answers: estimates from forced tools, calls it must make, cut and continued answers."""

from __future__ import annotations

from typing import Any

from anthropic.types import Message, ToolParam, ToolUseBlock

from tests.simulator.conftest import MODEL, OUTLINE, REQUIREMENTS, Sim

ROLES = ["architect", "backend", "frontend", "devops", "qa", "designer"]
WORK_ITEM: dict[str, Any] = {
    "type": "object",
    "properties": {
        "id": {"type": "string", "maxLength": 40},
        "title": {"type": "string", "maxLength": 200},
        "role": {"type": "string", "enum": ROLES},
        "low_hours": {"type": "number", "exclusiveMinimum": 0},
        "likely_hours": {"type": "number", "exclusiveMinimum": 0},
        "high_hours": {"type": "number", "exclusiveMinimum": 0},
        "assumptions": {"type": "array", "items": {"type": "string"}},
        "risks": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["id", "title", "role", "low_hours", "likely_hours", "high_hours", "assumptions", "risks"],
}
ESTIMATE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "summary": {"type": "string"},
        "work_items": {"type": "array", "items": WORK_ITEM, "minItems": 1, "maxItems": 150},
    },
    "required": ["summary", "work_items"],
}
SUBMIT: ToolParam = {"name": "submit_estimate", "input_schema": ESTIMATE_SCHEMA}
EXPECTED_ROLES = ["backend", "backend", "frontend", "backend", "devops", "qa", "designer"]


def _tool_use(message: Message) -> ToolUseBlock:
    blocks = [block for block in message.content if block.type == "tool_use"]
    assert len(blocks) == 1
    return blocks[0]


async def _estimate(sim: Sim, content: str) -> Message:
    return await sim.claude.messages.create(
        model=MODEL,
        max_tokens=8000,
        system="You estimate software.",
        messages=[{"role": "user", "content": content}],
        tools=[SUBMIT],
        tool_choice={"type": "tool", "name": "submit_estimate"},
    )


async def test_forced_estimate_has_one_work_item_per_heading_and_bullet(sim: Sim) -> None:
    message = await _estimate(sim, f"Estimate these:\n<requirements>\n{REQUIREMENTS}</requirements>")

    assert message.stop_reason == "tool_use"
    items = _tool_use(message).input["work_items"]
    assert isinstance(items, list)
    assert [item["title"] for item in items] == OUTLINE
    assert [item["role"] for item in items] == EXPECTED_ROLES
    assert all(0 < item["low_hours"] <= item["likely_hours"] <= item["high_hours"] for item in items)
    assert len({item["id"] for item in items}) == len(items)


async def test_same_requirements_give_the_same_estimate(sim: Sim) -> None:
    first = await _estimate(sim, f"<requirements>{REQUIREMENTS}</requirements>")
    second = await _estimate(sim, f"<requirements>{REQUIREMENTS}</requirements>")

    assert _tool_use(first).input == _tool_use(second).input


async def test_requirements_tags_win_over_other_text_in_the_message(sim: Sim) -> None:
    content: list[Any] = [
        {"type": "text", "text": "# Repository\n- src/\n- tests/"},
        {"type": "text", "text": "<requirements>\n- Login page\n- Password reset API\n</requirements>"},
    ]
    message = await sim.claude.messages.create(
        model=MODEL,
        max_tokens=4000,
        messages=[{"role": "user", "content": content}],
        tools=[SUBMIT],
        tool_choice={"type": "tool", "name": "submit_estimate"},
    )

    items = _tool_use(message).input["work_items"]
    assert isinstance(items, list)
    assert [(item["title"], item["role"]) for item in items] == [
        ("Login page", "frontend"),
        ("Password reset API", "backend"),
    ]


async def test_roles_only_come_from_the_schema_enum(sim: Sim) -> None:
    narrow: ToolParam = {
        "name": "submit_estimate",
        "input_schema": {
            "type": "object",
            "properties": {
                "work_items": {
                    "type": "array",
                    "items": {
                        **WORK_ITEM,
                        "properties": {**WORK_ITEM["properties"], "role": {"enum": ["engineer", "tester"]}},
                    },
                }
            },
        },
    }
    message = await sim.claude.messages.create(
        model=MODEL,
        max_tokens=8000,
        messages=[{"role": "user", "content": REQUIREMENTS}],
        tools=[narrow],
        tool_choice={"type": "tool", "name": "submit_estimate"},
    )

    items = _tool_use(message).input["work_items"]
    assert isinstance(items, list)
    assert {item["role"] for item in items} <= {"engineer", "tester"}


async def test_tool_choice_any_must_call_a_tool(sim: Sim) -> None:
    message = await sim.claude.messages.create(
        model=MODEL,
        max_tokens=8000,
        messages=[{"role": "user", "content": REQUIREMENTS}],
        tools=[SUBMIT],
        tool_choice={"type": "any"},
    )

    assert message.stop_reason == "tool_use"
    assert _tool_use(message).name == "submit_estimate"


async def test_output_beyond_max_tokens_is_cut_and_says_so(sim: Sim) -> None:
    text = await sim.claude.messages.create(
        model=MODEL, max_tokens=5, messages=[{"role": "user", "content": REQUIREMENTS}]
    )
    tool = await sim.claude.messages.create(
        model=MODEL,
        max_tokens=30,
        messages=[{"role": "user", "content": REQUIREMENTS}],
        tools=[SUBMIT],
        tool_choice={"type": "tool", "name": "submit_estimate"},
    )

    assert text.stop_reason == "max_tokens"
    assert text.usage.output_tokens <= 5
    assert text.content[0].type == "text" and len(text.content[0].text) <= 20
    assert tool.stop_reason == "max_tokens"
    assert tool.usage.output_tokens <= 30
    items = _tool_use(tool).input.get("work_items", [])
    assert isinstance(items, list) and len(items) < len(OUTLINE)

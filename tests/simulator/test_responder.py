"""What the simulated Claude answers: estimates from forced tools, calls it must make, cut and continued answers."""

from __future__ import annotations

from typing import Any

from anthropic.types import Message, MessageParam, ToolParam, ToolUseBlock

from tests.simulator.conftest import MODEL, OUTLINE, REQUIREMENTS, Chat, Sim

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


def _text(message: Message) -> str:
    return "".join(block.text for block in message.content if block.type == "text")


async def test_a_prefill_is_continued_not_repeated(sim: Sim, chat: Chat) -> None:
    question = "Why that many hours?"
    whole = await chat.ask(sim, question)
    cut = await chat.ask(sim, question, max_tokens=20)
    prefill = _text(cut).rstrip()  # the API refuses a prefill ending in whitespace

    continued = await chat.ask(sim, [{"role": "user", "content": question}, {"role": "assistant", "content": prefill}])

    assert cut.stop_reason == "max_tokens"
    assert continued.stop_reason == "end_turn"
    assert prefill + _text(continued) == _text(whole)
    assert continued.usage.output_tokens < whole.usage.output_tokens


async def test_a_prefill_cut_before_the_edit_gets_the_rest_of_the_sentence_and_the_call(sim: Sim, chat: Chat) -> None:
    request = "Please add a payment integration with Stripe."
    whole = await chat.ask(sim, request)
    cut = await chat.ask(sim, request, max_tokens=10)
    messages: list[MessageParam] = [
        {"role": "user", "content": request},
        {"role": "assistant", "content": [{"type": "text", "text": _text(cut).rstrip()}]},
    ]

    continued = await chat.ask(sim, messages)

    assert [block.type for block in cut.content] == ["text"]
    assert [block.type for block in continued.content] == ["text", "tool_use"]
    assert _text(cut).rstrip() + _text(continued) == _text(whole)
    assert _tool_use(continued).input == _tool_use(whole).input
    assert continued.stop_reason == "tool_use"


async def test_a_prefill_holding_the_whole_sentence_gets_only_the_call(sim: Sim, chat: Chat) -> None:
    request = "Drop the booking screens"
    whole = await chat.ask(sim, request)
    messages: list[MessageParam] = [
        {"role": "user", "content": request},
        {"role": "assistant", "content": _text(whole)},
    ]

    continued = await chat.ask(sim, messages)

    assert [block.type for block in continued.content] == ["tool_use"]
    assert _tool_use(continued).input == _tool_use(whole).input


async def test_an_edit_cut_by_max_tokens_is_incomplete_json(sim: Sim, chat: Chat) -> None:
    request = "Please add a payment integration with Stripe."
    whole = await chat.ask(sim, request)

    cut = await chat.ask(sim, request, max_tokens=whole.usage.output_tokens - 10)

    assert cut.stop_reason == "max_tokens"
    assert cut.usage.output_tokens <= whole.usage.output_tokens - 10
    assert [block.type for block in cut.content] == ["text", "tool_use"]
    assert _tool_use(cut).input != _tool_use(whole).input


async def test_a_prefill_matches_with_or_without_its_trailing_space(sim: Sim, chat: Chat) -> None:
    question = "Summarise the main risks"
    whole = _text(await chat.ask(sim, question))
    said = whole[: whole.index(" ", 40)]

    for prefill in (said, said + " "):
        continued = await chat.ask(
            sim, [{"role": "user", "content": question}, {"role": "assistant", "content": prefill}]
        )
        assert prefill + _text(continued) == whole


async def test_a_prefill_the_answer_does_not_start_with_is_followed_by_it(sim: Sim, chat: Chat) -> None:
    question = "Summarise the main risks"
    whole = _text(await chat.ask(sim, question))

    continued = await chat.ask(
        sim, [{"role": "user", "content": question}, {"role": "assistant", "content": "Good question."}]
    )

    assert _text(continued) == " " + whole

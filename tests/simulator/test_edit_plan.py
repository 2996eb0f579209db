"""Scope changes in a chat: one sentence, then an `edit_estimate` call that the product can apply as it is."""

from __future__ import annotations

import pytest
from anthropic.types import Message, ToolUseBlock

from services.estimation.edits import AddItem, EstimateEdit, RemoveItem, UpdateItem, apply_edit
from services.estimation.models import ClaudeEstimate
from services.estimation.schema import EDIT_TOOL_NAME
from tests.simulator.conftest import MODEL, Chat, Sim

EDIT_OUTPUT_TOKENS = 600
"""A real model's edit call for one change is a sentence and a few operations: a few hundred tokens at most."""


def _call(message: Message) -> ToolUseBlock:
    calls = [block for block in message.content if block.type == "tool_use"]
    assert len(calls) == 1, message.content
    return calls[0]


def _edit(message: Message) -> EstimateEdit:
    call = _call(message)
    assert call.name == EDIT_TOOL_NAME
    return EstimateEdit.model_validate(call.input)


def _applied(chat: Chat, message: Message) -> ClaudeEstimate:
    return apply_edit(chat.estimate, _edit(message), chat.roles)


def _titles(estimate: ClaudeEstimate) -> list[str]:
    return [item.title for item in estimate.work_items]


async def test_a_change_is_one_sentence_then_an_edit_that_applies(sim: Sim, chat: Chat) -> None:
    message = await chat.ask(sim, "Please add a payment integration with Stripe.")

    assert message.stop_reason == "tool_use"
    assert [block.type for block in message.content] == ["text", "tool_use"]
    preface = message.content[0].text if message.content[0].type == "text" else ""
    assert preface.startswith("I'll ") and preface.count(". ") == 0 and preface.endswith(".")
    edit = _edit(message)
    assert edit.reason and all(op.reason for op in edit.operations)
    assert len(_applied(chat, message).work_items) == len(chat.estimate.work_items) + 1


async def test_an_addition_adds_one_item_under_the_next_free_id(sim: Sim, chat: Chat) -> None:
    message = await chat.ask(sim, "Can you add an admin dashboard for the clinic staff to the estimate?")

    [op] = _edit(message).operations
    assert isinstance(op, AddItem)
    assert op.item.id == "WI-05" and op.item.id not in {item.id for item in chat.estimate.work_items}
    assert op.item.title == "Admin dashboard for the clinic staff"
    assert op.item.role in chat.roles
    assert 0 < op.item.low_hours <= op.item.likely_hours <= op.item.high_hours
    assert (op.item.assumptions, op.item.risks) == ([], [])
    assert _titles(_applied(chat, message))[-1] == "Admin dashboard for the clinic staff"


async def test_include_asks_for_an_addition_too(sim: Sim, chat: Chat) -> None:
    message = await chat.ask(sim, "Please include SSO login.")

    [op] = _edit(message).operations
    assert isinstance(op, AddItem) and op.item.title == "SSO login"


@pytest.mark.parametrize(
    ("request_text", "removed"),
    [
        ("Remove the end-to-end tests for checkout, please.", "WI-04"),
        ("Drop the booking screens", "WI-02"),
        ("We don't need it any more: delete WI-03.", "WI-03"),
        ("Cut the calendar sync.", "WI-03"),
    ],
)
async def test_a_removal_removes_the_item_it_names(sim: Sim, chat: Chat, request_text: str, removed: str) -> None:
    message = await chat.ask(sim, request_text)

    [op] = _edit(message).operations
    assert isinstance(op, RemoveItem) and op.id == removed
    assert removed not in {item.id for item in _applied(chat, message).work_items}


@pytest.mark.parametrize(
    ("request_text", "item_id", "hours"),
    [
        ("Increase the hours of the booking API by 50%", "WI-01", (9, 18, 45)),
        ("Can you reduce the calendar sync job to 10 hours?", "WI-03", (6.5, 10, 16.5)),
        ("Add 10 hours to the booking screens", "WI-02", (18, 18, 18)),
        ("Lower the end-to-end tests a bit", "WI-04", (6.5, 9.5, 16)),
        ("Cut the hours of the calendar sync by 6 h", "WI-03", (8, 12, 20)),
        ("Please double the booking API.", "WI-01", (12, 24, 60)),
        ("Halve the end-to-end tests", "WI-04", (4, 6, 10)),
    ],
)
async def test_a_resize_changes_only_the_hours_of_the_item(
    sim: Sim, chat: Chat, request_text: str, item_id: str, hours: tuple[float, float, float]
) -> None:
    message = await chat.ask(sim, request_text)

    [op] = _edit(message).operations
    assert isinstance(op, UpdateItem) and op.id == item_id
    assert (op.title, op.role) == (None, None)
    [item] = [item for item in _applied(chat, message).work_items if item.id == item_id]
    before = next(item for item in chat.estimate.work_items if item.id == item_id)
    assert (item.low_hours, item.likely_hours, item.high_hours) == hours
    assert (item.title, item.role) == (before.title, before.role)


@pytest.mark.parametrize(
    ("request_text", "item_id", "role"),
    [
        ("Change the booking screens to backend", "WI-02", "backend"),
        ("Please change WI-04 to a frontend task", "WI-04", "frontend"),
    ],
)
async def test_a_change_to_a_role_hands_the_item_over(
    sim: Sim, chat: Chat, request_text: str, item_id: str, role: str
) -> None:
    message = await chat.ask(sim, request_text)

    [op] = _edit(message).operations
    assert isinstance(op, UpdateItem) and (op.id, op.role) == (item_id, role)
    assert (op.low_hours, op.likely_hours, op.high_hours) == (None, None, None)
    [item] = [item for item in _applied(chat, message).work_items if item.id == item_id]
    assert item.role == role


async def test_an_item_that_is_not_there_gets_text_naming_the_items(sim: Sim, chat: Chat) -> None:
    message = await chat.ask(sim, "Drop the reporting module.")

    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]
    text = message.content[0].text if message.content[0].type == "text" else ""
    assert "reporting module" in text
    assert all(item.id in text and item.title in text for item in chat.estimate.work_items)


@pytest.mark.parametrize("question", ["Why did you add a calendar sync job?", "Does the estimate include payments?"])
async def test_a_question_about_a_change_changes_nothing(sim: Sim, chat: Chat, question: str) -> None:
    message = await chat.ask(sim, question)

    assert message.stop_reason == "end_turn"
    assert [block.type for block in message.content] == ["text"]


@pytest.mark.parametrize(
    "request_text",
    [
        "Please add a payment integration with Stripe, with refunds and receipts sent by email to every patient.",
        "Remove the end-to-end tests for checkout, please.",
        "Increase the hours of the booking API by 50%",
    ],
)
async def test_an_edit_call_costs_a_few_hundred_output_tokens_at_most(sim: Sim, chat: Chat, request_text: str) -> None:
    message = await chat.ask(sim, request_text, max_tokens=8000)

    assert message.stop_reason == "tool_use"
    assert message.usage.output_tokens < EDIT_OUTPUT_TOKENS


async def test_the_same_request_gets_the_same_edit(sim: Sim, chat: Chat) -> None:
    first = await chat.ask(sim, "Please add a payment integration with Stripe.")
    again = await chat.ask(sim, "Please add a payment integration with Stripe.")

    assert _call(first).input == _call(again).input
    assert first.content[0] == again.content[0]


async def test_a_required_tool_call_is_the_edit(sim: Sim, chat: Chat) -> None:
    message = await sim.claude.messages.create(
        model=MODEL,
        max_tokens=4000,
        system=chat.system,
        messages=[{"role": "user", "content": "Drop the booking screens"}],
        tools=chat.tools,
        tool_choice={"type": "tool", "name": EDIT_TOOL_NAME},
    )

    assert [block.type for block in message.content] == ["tool_use"]
    [op] = _edit(message).operations
    assert isinstance(op, RemoveItem) and op.id == "WI-02"


async def test_a_streamed_edit_arrives_whole(sim: Sim, chat: Chat) -> None:
    plain = await chat.ask(sim, "Drop the booking screens")
    async with sim.claude.messages.stream(
        model=MODEL,
        max_tokens=4000,
        system=chat.system,
        messages=[{"role": "user", "content": "Drop the booking screens"}],
        tools=chat.tools,
    ) as stream:
        streamed = await stream.get_final_message()

    assert streamed.content[0].type == plain.content[0].type == "text"
    assert streamed.content[0].text == plain.content[0].text
    assert _call(streamed).input == _call(plain).input
    assert streamed.usage.output_tokens == plain.usage.output_tokens

"""Questions get a short paragraph about the estimate; a tool result gets a sentence quoting it."""

from __future__ import annotations

import pytest
from anthropic.types import Message, MessageParam

from services.estimation.schema import EDIT_TOOL_NAME
from services.simulator.replies import ANSWER_TOKENS
from tests.simulator.conftest import Chat, Sim

QUESTIONS = [
    "Why that many hours?",
    "Why is the booking API so expensive?",
    "Summarise the main risks",
    "Could the reporting features be delivered in a second phase?",
    "What is out of scope?",
    "How sure are you about WI-03?",
]
SAVED = "Saved as revision 3: expected 88.4 h, cost 6,321.00 EUR, price 9,876.00 EUR (computed by code)."


def _text(message: Message) -> str:
    assert [block.type for block in message.content] == ["text"], message.content
    block = message.content[0]
    return block.text if block.type == "text" else ""


@pytest.mark.parametrize("question", QUESTIONS)
async def test_a_question_gets_a_short_paragraph_and_no_tool_call(sim: Sim, chat: Chat, question: str) -> None:
    message = await chat.ask(sim, question, max_tokens=1000)

    assert message.stop_reason == "end_turn"
    assert _text(message)
    low, high = ANSWER_TOKENS
    assert low <= message.usage.output_tokens <= high


async def test_answer_lengths_differ_between_questions_and_repeat_for_one(sim: Sim, chat: Chat) -> None:
    lengths = [(await chat.ask(sim, question)).usage.output_tokens for question in QUESTIONS]
    again = await chat.ask(sim, QUESTIONS[0])

    assert len(set(lengths)) > 1
    assert again.usage.output_tokens == lengths[0]


async def test_an_answer_quotes_the_item_asked_about_and_the_computed_figures(sim: Sim, chat: Chat) -> None:
    text = _text(await chat.ask(sim, "Why is the booking API so expensive?"))

    [booking_api] = [item for item in chat.financials.items if item.id == "WI-01"]
    assert "WI-01 (Booking API)" in text
    assert f"{booking_api.expected_hours:g} h expected" in text
    assert f"{chat.financials.price:,.2f} {chat.financials.currency}" in text


async def test_a_risk_question_names_the_risks(sim: Sim, chat: Chat) -> None:
    text = _text(await chat.ask(sim, "Summarise the main risks"))

    assert text.startswith("The main risks are")
    assert all(risk.title in text for risk in chat.estimate.risks)


def _after_edit(result: str, *, is_error: bool) -> list[MessageParam]:
    return [
        {"role": "user", "content": "Please add a payment integration with Stripe."},
        {
            "role": "assistant",
            "content": [
                {"type": "text", "text": 'I\'ll add "Payment integration with Stripe" as WI-05.'},
                {
                    "type": "tool_use",
                    "id": "toolu_1",
                    "name": EDIT_TOOL_NAME,
                    "input": {
                        "reason": "Client asked for Stripe payments",
                        "operations": [
                            {
                                "op": "add_item",
                                "item": {"id": "WI-05", "title": "Payment integration with Stripe"},
                                "reason": "New scope",
                            }
                        ],
                    },
                },
            ],
        },
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "toolu_1", "content": result, "is_error": is_error}],
        },
    ]


async def test_after_a_tool_result_the_reply_confirms_it_in_its_words(sim: Sim, chat: Chat) -> None:
    message = await chat.ask(sim, _after_edit(SAVED, is_error=False), max_tokens=400)

    assert message.stop_reason == "end_turn"
    text = _text(message)
    assert SAVED in text
    assert "WI-05 (Payment integration with Stripe)" in text
    assert text.count(". ") <= 2


async def test_a_failed_edit_is_reported_as_not_applied(sim: Sim, chat: Chat) -> None:
    problem = "add_item: id 'WI-05' is already in use; pick a new id or use update_item"
    message = await chat.ask(sim, _after_edit(problem, is_error=True), max_tokens=400)

    text = _text(message)
    assert problem in text
    assert "couldn't apply" in text and "Saved" not in text

"""The HTTP surface: what the SDK sends is accepted, what it cannot send is refused in Anthropic's shape."""

from __future__ import annotations

import anthropic
import pytest

from tests.simulator.conftest import MODEL, REQUIREMENTS, Sim


async def test_plain_question_gets_a_readable_answer_quoting_the_request(sim: Sim) -> None:
    content = f"{REQUIREMENTS}\nHow long would this take?"
    first = await sim.claude.messages.create(
        model=MODEL, max_tokens=500, messages=[{"role": "user", "content": content}]
    )
    again = await sim.claude.messages.create(
        model=MODEL, max_tokens=500, messages=[{"role": "user", "content": content}]
    )

    assert first.stop_reason == "end_turn"
    assert first.content[0].type == "text"
    text = first.content[0].text
    assert "How long would this take?" in text
    assert '"Booking platform"' in text
    assert again.content[0].type == "text" and again.content[0].text == text
    assert first.usage.input_tokens > 0 and first.usage.output_tokens > 0
    assert first.usage.cache_creation_input_tokens == 0 and first.usage.cache_read_input_tokens == 0


async def test_count_tokens_grows_with_the_prompt(sim: Sim) -> None:
    short = await sim.claude.messages.count_tokens(model=MODEL, messages=[{"role": "user", "content": "Hi"}])
    long = await sim.claude.messages.count_tokens(
        model=MODEL, system="You estimate software.", messages=[{"role": "user", "content": REQUIREMENTS}]
    )

    assert 0 < short.input_tokens < long.input_tokens


async def test_count_tokens_matches_what_a_message_is_billed(sim: Sim) -> None:
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": REQUIREMENTS}]
    counted = await sim.claude.messages.count_tokens(model=MODEL, messages=messages)
    message = await sim.claude.messages.create(model=MODEL, max_tokens=100, messages=messages)

    assert message.usage.input_tokens == counted.input_tokens


async def test_request_without_a_key_is_an_authentication_error(sim: Sim) -> None:
    with pytest.raises(anthropic.AuthenticationError) as caught:
        await sim.claude.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": "Hi"}],
            extra_headers={"Authorization": anthropic.omit},
        )

    assert caught.value.type == "authentication_error"
    assert caught.value.request_id


async def test_x_api_key_header_is_accepted(sim: Sim) -> None:
    response = await sim.http.post(
        "/v1/messages",
        headers={"x-api-key": "sk-other", "anthropic-version": "2023-06-01"},
        json={"model": MODEL, "max_tokens": 20, "messages": [{"role": "user", "content": "Hi"}]},
    )

    assert response.status_code == 200
    assert response.json()["type"] == "message"


async def test_invalid_body_is_an_invalid_request_error(sim: Sim) -> None:
    response = await sim.http.post(
        "/v1/messages", headers={"x-api-key": "sk-test"}, json={"model": MODEL, "messages": []}
    )

    body = response.json()
    assert response.status_code == 400
    assert body["type"] == "error"
    assert body["error"]["type"] == "invalid_request_error"
    assert "max_tokens" in body["error"]["message"]
    assert response.headers["request-id"] == body["request_id"]


async def test_sdk_raises_bad_request_for_an_unknown_forced_tool(sim: Sim) -> None:
    with pytest.raises(anthropic.BadRequestError):
        await sim.claude.messages.create(
            model=MODEL,
            max_tokens=10,
            messages=[{"role": "user", "content": "Hi"}],
            tools=[{"name": "a", "input_schema": {"type": "object"}}],
            tool_choice={"type": "tool", "name": "b"},
        )


async def test_health_and_readiness(sim: Sim) -> None:
    assert (await sim.http.get("/healthz")).json()["status"] == "ok"
    assert (await sim.http.get("/readyz")).status_code == 200

"""Streaming: the SDK's stream helpers rebuild the same message a plain request returns."""

from __future__ import annotations

import anthropic
import pytest
from anthropic.types import ToolParam

from tests.simulator.conftest import MODEL, OUTLINE, REQUIREMENTS, Sim

TITLES: ToolParam = {
    "name": "list_titles",
    "input_schema": {
        "type": "object",
        "properties": {"items": {"type": "array", "items": {"type": "object", "properties": {"title": {}}}}},
    },
}


async def test_stream_helper_yields_text_and_the_final_message(sim: Sim) -> None:
    messages: list[anthropic.types.MessageParam] = [{"role": "user", "content": f"{REQUIREMENTS}\nHow long?"}]
    plain = await sim.claude.messages.create(model=MODEL, max_tokens=500, messages=messages)

    async with sim.claude.messages.stream(model=MODEL, max_tokens=500, messages=messages) as stream:
        pieces = [text async for text in stream.text_stream]
        final = await stream.get_final_message()

    assert len(pieces) > 1
    assert final.content[0].type == "text" and plain.content[0].type == "text"
    assert "".join(pieces) == final.content[0].text == plain.content[0].text
    assert final.stop_reason == "end_turn"
    assert final.usage.output_tokens == plain.usage.output_tokens
    assert final.usage.input_tokens == plain.usage.input_tokens


async def test_streamed_tool_call_arrives_as_json_deltas(sim: Sim) -> None:
    async with sim.claude.messages.stream(
        model=MODEL,
        max_tokens=4000,
        messages=[{"role": "user", "content": REQUIREMENTS}],
        tools=[TITLES],
        tool_choice={"type": "tool", "name": "list_titles"},
    ) as stream:
        final = await stream.get_final_message()

    assert final.stop_reason == "tool_use"
    block = final.content[0]
    assert block.type == "tool_use"
    items = block.input["items"]
    assert isinstance(items, list)
    assert [item["title"] for item in items] == OUTLINE


async def test_raw_stream_sends_the_named_events_in_order(sim: Sim) -> None:
    stream = await sim.claude.messages.create(
        model=MODEL, max_tokens=500, messages=[{"role": "user", "content": "Hello"}], stream=True
    )
    kinds = [event.type async for event in stream]

    assert kinds[0] == "message_start"
    assert kinds[1] == "content_block_start"
    assert "content_block_delta" in kinds
    assert kinds[-3:] == ["content_block_stop", "message_delta", "message_stop"]


async def test_wire_carries_ping_and_event_names(sim: Sim) -> None:
    response = await sim.http.post(
        "/v1/messages",
        headers={"x-api-key": "sk-test"},
        json={"model": MODEL, "max_tokens": 300, "stream": True, "messages": [{"role": "user", "content": "Hi"}]},
    )

    assert response.headers["content-type"].startswith("text/event-stream")
    names = [line.removeprefix("event: ").strip() for line in response.text.splitlines() if line.startswith("event:")]
    assert names[:3] == ["message_start", "content_block_start", "ping"]
    assert '"type": "text_delta"' in response.text
    assert '"stop_reason": "end_turn"' in response.text


async def test_overloaded_mid_stream_raises_during_iteration(sim: Sim) -> None:
    await sim.http.post("/_sim/faults", json={"kind": "overloaded_mid_stream", "count": 1})
    received: list[str] = []

    with pytest.raises(anthropic.APIStatusError) as caught:
        async with sim.claude.messages.stream(
            model=MODEL, max_tokens=500, messages=[{"role": "user", "content": REQUIREMENTS}]
        ) as stream:
            async for event in stream:
                received.append(event.type)

    assert received[0] == "message_start"
    assert "text" in received
    assert "message_stop" not in received
    assert isinstance(caught.value.body, dict)
    assert caught.value.body["error"]["type"] == "overloaded_error"


async def test_mid_stream_fault_waits_for_a_streaming_request(sim: Sim) -> None:
    await sim.http.post("/_sim/faults", json={"kind": "overloaded_mid_stream", "count": 1})

    plain = await sim.claude.messages.create(model=MODEL, max_tokens=300, messages=[{"role": "user", "content": "Hi"}])
    with pytest.raises(anthropic.APIStatusError):
        async with sim.claude.messages.stream(
            model=MODEL, max_tokens=300, messages=[{"role": "user", "content": "Hi"}]
        ) as stream:
            await stream.get_final_message()

    assert plain.stop_reason == "end_turn"

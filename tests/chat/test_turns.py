"""Turns as a client behind an ingress sees them: told at once when they wait, one at a time per save,
refused cleanly when no capacity comes, answered 202 when long, and saved once whoever listens."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from services.devstack.supervisor import Stack
from services.llm.budget import FleetBudget
from services.llm.settings import BudgetSettings
from tests.api import bearer, estimate, requirements
from tests.chat.test_routes import chat_service
from tests.stacks import in_process_chat


@pytest.fixture
async def finished(stack: Stack, api_key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        return await estimate(client, {"requirements_md": requirements("Turns", "login", "search", "export")})


@pytest.fixture
async def budget(stack: Stack, redis_client: aioredis.Redis) -> AsyncIterator[FleetBudget]:
    """The stack's own fleet budget, to pause it as a 529 from Claude would."""
    fleet = FleetBudget(redis_client, BudgetSettings(llm_budget_prefix=stack.env_used["LLM_BUDGET_PREFIX"]))
    yield fleet
    await redis_client.delete(f"{fleet.prefix}:cooldown")


async def _events(response: httpx.Response) -> AsyncIterator[tuple[str, dict[str, Any]]]:
    event = ""
    async for line in response.aiter_lines():
        if line.startswith("event:"):
            event = line[6:].strip()
        elif line.startswith("data:"):
            yield event, json.loads(line[5:])


async def _history_length(stack: Stack, job_id: str) -> int:
    async with httpx.AsyncClient(base_url=stack.env_used["SAVES_URL"], timeout=10) as saves:
        from services.shared.internal import OWNER_HEADER, TOKEN_HEADER

        response = await saves.get(
            f"/internal/saves/by-job/{job_id}/chat",
            headers={TOKEN_HEADER: stack.env_used["INTERNAL_TOKEN"], OWNER_HEADER: "alice"},
        )
    return len(response.json()["messages"])


async def test_a_waiting_turn_is_told_at_once_and_a_second_turn_on_the_save_is_a_409(
    stack: Stack, finished: dict[str, Any], budget: FleetBudget
) -> None:
    job_id = finished["job_id"]
    await budget.cool_down(2, 529)
    seen: list[tuple[str, dict[str, Any], float]] = []
    async with chat_service(stack) as chat:
        loop = asyncio.get_running_loop()
        started = loop.time()
        async with chat.stream(
            "POST",
            f"/internal/chat/{job_id}",
            json={"message": "Why so many hours?"},
            headers={"Accept": "text/event-stream"},
        ) as response:
            async for name, data in _events(response):
                seen.append((name, data, loop.time() - started))
                if name == "wait":
                    second = await chat.post(f"/internal/chat/{job_id}", json={"message": "And the risks?"})
                    assert second.status_code == 409
                    assert second.json()["error"]["code"] == "turn_in_progress"
    names = [name for name, _, _ in seen]
    assert names[0] == "turn" and "wait" in names and names[-1] == "done", names
    wait = next((data, at) for name, data, at in seen if name == "wait")
    assert wait[0]["reason"] == "cooldown" and wait[0]["position"] == 1 and wait[1] < 1.0
    assert seen[-1][1]["revised"] is False


async def test_a_turn_that_cannot_start_in_time_is_a_503_with_retry_after_and_leaves_nothing(
    stack: Stack, finished: dict[str, Any], budget: FleetBudget, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = finished["job_id"]
    before = await _history_length(stack, job_id)
    await budget.cool_down(30, 529)
    async with in_process_chat(monkeypatch, stack, {"CHAT_MAX_WAIT_S": "0.5"}) as chat:
        refused = await chat.post(f"/internal/chat/{job_id}", json={"message": "What is assumed?"})
        assert refused.status_code == 503, refused.text
        assert refused.json()["error"]["code"] == "claude_busy"
        assert int(refused.headers["Retry-After"]) >= 1
        # The save is free again at once: the refused turn released it.
        await budget.redis.delete(f"{budget.prefix}:cooldown")
        again = await chat.post(f"/internal/chat/{job_id}", json={"message": "What is assumed?"})
        assert again.status_code == 200
    assert await _history_length(stack, job_id) == before + 2


async def test_a_long_json_turn_is_answered_202_and_read_later_once(
    stack: Stack, finished: dict[str, Any], budget: FleetBudget, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_id = finished["job_id"]
    before = await _history_length(stack, job_id)
    await budget.cool_down(1.5, 529)
    async with in_process_chat(monkeypatch, stack, {"CHAT_SYNC_WAIT_S": "0.2"}) as chat:
        accepted = await chat.post(f"/internal/chat/{job_id}", json={"message": "Which item is riskiest?"})
        assert accepted.status_code == 202, accepted.text
        turn = accepted.json()
        assert turn["state"] == "running"
        assert accepted.headers["Location"] == f"/api/estimate/{job_id}/chat/turns/{turn['turn_id']}"
        for _ in range(100):
            state = (await chat.get(f"/internal/chat/{job_id}/turns/{turn['turn_id']}")).json()
            if state["state"] != "running":
                break
            await asyncio.sleep(0.1)
        assert state["state"] == "succeeded" and state["reply"]["reply"]
        other = await chat.get(
            f"/internal/chat/{job_id}/turns/{turn['turn_id']}", headers={"X-Estimator-Owner": "mallory"}
        )
        assert other.status_code == 404
    assert await _history_length(stack, job_id) == before + 2


async def test_a_client_that_hangs_up_still_gets_its_turn_saved_once(stack: Stack, finished: dict[str, Any]) -> None:
    job_id = finished["job_id"]
    before = await _history_length(stack, job_id)
    async with (
        chat_service(stack) as chat,
        chat.stream(
            "POST",
            f"/internal/chat/{job_id}",
            json={"message": "Explain WI-01"},
            headers={"Accept": "text/event-stream"},
        ) as response,
    ):
        async for name, _ in _events(response):
            if name == "turn":
                break
    for _ in range(100):
        if await _history_length(stack, job_id) > before:
            break
        await asyncio.sleep(0.1)
    await asyncio.sleep(0.5)
    assert await _history_length(stack, job_id) == before + 2


async def test_answers_teach_the_allowance_of_their_kind(
    stack: Stack, finished: dict[str, Any], redis_client: aioredis.Redis
) -> None:
    key = f"{stack.env_used['CHAT_KEY_PREFIX']}:output:answer:first"
    before = await redis_client.llen(key)  # type: ignore[misc]
    async with chat_service(stack) as chat:
        reply = await chat.post(f"/internal/chat/{finished['job_id']}", json={"message": "Why that many hours?"})
    assert reply.status_code == 200
    learned = await redis_client.lrange(key, 0, 0)  # type: ignore[misc]
    assert await redis_client.llen(key) == before + 1  # type: ignore[misc]
    assert int(learned[0]) == reply.json()["usage"]["output_tokens"]


async def test_a_turn_through_the_gateway_can_be_read_back_by_its_owner_only(
    stack: Stack, finished: dict[str, Any], api_key: str, other_key: str
) -> None:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        streamed = client.stream(
            "POST",
            f"/api/estimate/{finished['job_id']}/chat",
            json={"message": "What is out of scope?"},
            headers={"Accept": "text/event-stream"},
        )
        async with streamed as response:
            events = _events(response)
            first = await anext(events)
            assert first[0] == "turn"
            async for _ in events:
                pass
        location = first[1]["location"]
        state = await client.get(location)
        assert state.status_code == 200 and state.json()["state"] == "succeeded"
        stranger = await client.get(location, headers=bearer(other_key))
        assert stranger.status_code == 404
        assert (await client.get(f"/api/estimate/{finished['job_id']}/chat/turns/not-a-turn%0A")).status_code == 404


async def test_a_turn_in_progress_when_its_replica_stops_is_finished_and_stored(
    stack: Stack, finished: dict[str, Any], budget: FleetBudget, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A rollout stops the replica while Claude is still answering: the paid turn ends and is stored."""
    job_id = finished["job_id"]
    before = await _history_length(stack, job_id)
    await budget.cool_down(1.5, 529)  # the turn waits in line, then streams: it is running at the shutdown
    async with in_process_chat(monkeypatch, stack, {"CHAT_SYNC_WAIT_S": "0.2"}) as chat:
        accepted = await chat.post(f"/internal/chat/{job_id}", json={"message": "Which item is riskiest?"})
        assert accepted.status_code == 202, accepted.text
    # The lifespan has ended: the replica is gone. Its turn was not cut.
    assert await _history_length(stack, job_id) == before + 2

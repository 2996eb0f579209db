"""What a turn does with Claude's answer: edits applied or refused, and answers never cut by the allowance."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
import redis.asyncio as aioredis

from services.devstack.supervisor import Stack
from services.estimation.rate_card import RateCard
from services.llm.allowance import MIN_SAMPLES
from tests.api import bearer, estimate, requirements
from tests.sim_control import stack_control_headers
from tests.stacks import in_process_chat


@pytest.fixture
async def finished(stack: Stack, api_key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        return await estimate(client, {"requirements_md": requirements("Edits", "login", "search", "export")})


async def _save(stack: Stack, api_key: str, save_id: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        return dict((await client.get(f"/api/saves/{save_id}")).json())


async def test_an_edit_is_stored_with_its_operations_and_priced_by_code(
    stack: Stack, finished: dict[str, Any], api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    async with in_process_chat(monkeypatch, stack, {}) as chat:
        reply = await chat.post(f"/internal/chat/{finished['job_id']}", json={"message": "Please add a mobile app"})
    body = reply.json()
    assert reply.status_code == 200 and body["revised"] is True and body["revision"] == 2, body
    assert "Saved as revision 2" in body["reply"]
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        revision = (await client.get(f"/api/saves/{finished['save_id']}/revisions/2")).json()
    assert [op["op"] for op in revision["operations"]] == ["add_item"]
    assert revision["totals"]["price"] == revision["financials_data"]["price"]
    assert body["usage"]["output_tokens"] < 1000, "an edit, not a re-emitted estimate"


async def test_an_edit_that_cannot_be_applied_goes_back_to_claude_and_saves_nothing(
    stack: Stack, finished: dict[str, Any], api_key: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # This chat replica's rate card prices only pm and qa: the existing items' roles make any edited
    # estimate unpriceable, so code must refuse the edit whatever Claude sends.
    card = RateCard()
    narrow = card.model_copy(update={"roles": {role: card.roles[role] for role in ("pm", "qa")}})
    before = await _save(stack, api_key, finished["save_id"])
    async with in_process_chat(monkeypatch, stack, {"RATE_CARD": narrow.model_dump_json()}) as chat:
        reply = await chat.post(f"/internal/chat/{finished['job_id']}", json={"message": "Please add a mobile app"})
    body = reply.json()
    assert reply.status_code == 200 and body["revised"] is False and body["revision"] == before["revision"], body
    assert "not" in body["reply"].lower() and "appl" in body["reply"].lower()
    after = await _save(stack, api_key, finished["save_id"])
    assert after["revision"] == before["revision"] and after["totals"] == before["totals"]


async def tight_allowance(stack: Stack, redis: aioredis.Redis, name: str) -> tuple[str, dict[str, str]]:
    """Chat settings under which answers have learned to need 16 tokens: most reach their allowance."""
    prefix = f"{stack.env_used['CHAT_KEY_PREFIX']}:{name}"
    await redis.lpush(f"{prefix}:output:answer:first", *([16] * MIN_SAMPLES))  # type: ignore[misc]
    return prefix, {"CHAT_KEY_PREFIX": prefix, "CHAT_MIN_TOKENS": "16"}


async def test_an_answer_longer_than_its_allowance_is_continued_not_cut(
    stack: Stack, finished: dict[str, Any], redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    prefix, env = await tight_allowance(stack, redis_client, "tight")
    async with in_process_chat(monkeypatch, stack, env) as chat:
        reply = await chat.post(
            f"/internal/chat/{finished['job_id']}", json={"message": "Why is the search work that many hours?"}
        )
    body = reply.json()
    assert reply.status_code == 200, body
    assert body["usage"]["calls"] >= 2 and body["usage"]["output_tokens"] > 16
    assert body["reply"].rstrip().endswith((".", "?", "!", '"')), body["reply"]
    learned = await redis_client.lrange(f"{prefix}:output:answer:first", 0, 0)  # type: ignore[misc]
    assert int(learned[0]) == body["usage"]["output_tokens"], "the whole answer is what is learned"
    rest = await redis_client.lrange(f"{prefix}:output:answer:first:continued", 0, 0)  # type: ignore[misc]
    assert int(rest[0]) == body["usage"]["output_tokens"] - 16, "and, apart, what its continuations needed"
    assert body["reply"].count(body["reply"][:40]) == 1, "the continuation does not repeat what was said"


async def test_the_call_that_makes_an_edit_reserves_a_higher_quantile_than_answers_do(
    stack: Stack, finished: dict[str, Any], redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An edit cut at its allowance would be made again whole, so it reserves the 0.95 quantile of what
    edits needed; at the answers' 0.8 this history gives 40 tokens, and the edit would be cut."""
    prefix = f"{stack.env_used['CHAT_KEY_PREFIX']}:edit-quantile"
    history = [40] * (MIN_SAMPLES - 2) + [2000, 2000]
    await redis_client.lpush(f"{prefix}:output:revision:first", *history)  # type: ignore[misc]
    async with in_process_chat(monkeypatch, stack, {"CHAT_KEY_PREFIX": prefix}) as chat:
        reply = await chat.post(f"/internal/chat/{finished['job_id']}", json={"message": "Please add a mobile app"})
    body = reply.json()
    assert reply.status_code == 200 and body["revised"] is True, body
    assert body["usage"]["calls"] == 2, "the edit in one call, then the reply to its result"
    assert not await redis_client.exists(f"{prefix}:output:revision:first:continued"), "nothing was cut"


async def test_a_continuation_that_fails_keeps_the_answer_already_paid_for_and_streamed(
    stack: Stack, finished: dict[str, Any], redis_client: aioredis.Redis, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, env = await tight_allowance(stack, redis_client, "cut")
    async with httpx.AsyncClient(
        base_url=f"http://{stack.host}:{stack.ports.simulator}", headers=stack_control_headers(stack)
    ) as sim:
        # The first call answers (cut at its allowance); the continuation meets a spend limit, which no retry fixes.
        armed = await sim.post("/_sim/faults", json={"kind": "spend_limit", "after": 1})
        assert armed.status_code == 200, armed.text
        try:
            async with in_process_chat(monkeypatch, stack, env) as chat:
                reply = await chat.post(
                    f"/internal/chat/{finished['job_id']}", json={"message": "Why is the search work that many hours?"}
                )
        finally:
            if (await sim.get("/_sim/faults")).json()["pending"]:
                await sim.post("/_sim/reset")  # the fault was never reached: leave no trap for other tests
    body = reply.json()
    assert reply.status_code == 200, body
    assert body["reply"].strip(), "the first call's text is kept, not lost with the failed continuation"
    assert body["usage"]["calls"] == 1 and 0 < body["usage"]["output_tokens"] <= 16

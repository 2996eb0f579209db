"""Chatting about an estimate: answers, revisions that re-price the estimate, history, streaming."""

from __future__ import annotations

import json

import httpx
import pytest
from redis.asyncio import Redis

from services.shared.contracts import JobInput
from services.shared.jobs import JobStore
from tests.api import estimate, requirements


@pytest.fixture
async def finished(client: httpx.AsyncClient) -> dict[str, str]:
    status = await estimate(client, {"requirements_md": requirements("Chatty", "login", "profile page")})
    assert status["status"] == "succeeded"
    return status


async def test_a_question_gets_an_answer_without_a_new_revision(
    client: httpx.AsyncClient, finished: dict[str, str]
) -> None:
    response = await client.post(f"/api/estimate/{finished['job_id']}/chat", json={"message": "Why so many hours?"})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["reply"] and body["revision"] == 1 and body["revised"] is False
    history = (await client.get(f"/api/estimate/{finished['job_id']}/chat")).json()
    assert [m["role"] for m in history["messages"]] == ["user", "assistant"]
    assert history["messages"][0]["content"] == "Why so many hours?"


async def test_a_change_request_makes_a_new_revision_with_recomputed_financials(
    client: httpx.AsyncClient, finished: dict[str, str]
) -> None:
    before = (await client.get(f"/api/saves/{finished['save_id']}")).json()
    response = await client.post(
        f"/api/estimate/{finished['job_id']}/chat", json={"message": "Please add a payment integration with Stripe"}
    )
    assert response.status_code == 200, response.text
    assert response.json()["revised"] is True and response.json()["revision"] == 2, response.json()
    after = (await client.get(f"/api/saves/{finished['save_id']}")).json()
    assert after["revision"] == 2
    assert after["updated_at"] > before["updated_at"]
    assert after["financials_data"] != before["financials_data"]
    items = after["estimate_data"]["work_items"]
    assert sum(i["likely_hours"] for i in items) > 0
    assert after["totals"]["price"] == after["financials_data"]["price"]
    assert "revision 2" in after["report_markdown"].lower()


async def test_streamed_reply_arrives_as_deltas_then_done(client: httpx.AsyncClient, finished: dict[str, str]) -> None:
    events: list[tuple[str, dict[str, object]]] = []
    event = ""
    async with client.stream(
        "POST",
        f"/api/estimate/{finished['job_id']}/chat",
        json={"message": "Summarise the main risks"},
        headers={"Accept": "text/event-stream"},
    ) as response:
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/event-stream")
        async for line in response.aiter_lines():
            if line.startswith("event:"):
                event = line[6:].strip()
            elif line.startswith("data:"):
                events.append((event, json.loads(line[5:])))
    names = [name for name, _ in events]
    assert "delta" in names and names[-1] == "done"
    streamed = "".join(str(data["text"]) for name, data in events if name == "delta")
    assert streamed.strip() == str(events[-1][1]["reply"]).strip()


async def test_chat_before_the_estimate_is_done_is_a_409(client: httpx.AsyncClient, redis_client: Redis) -> None:
    job, _ = await JobStore(redis_client, 600).create("alice", JobInput(requirements_md="# Not yet"))
    response = await client.post(f"/api/estimate/{job.job_id}/chat", json={"message": "hello"})
    assert response.status_code == 409
    assert response.json()["error"]["code"] == "estimate_not_ready"


@pytest.mark.parametrize("message", ["", "x" * 20_001])
async def test_chat_message_is_bounded(client: httpx.AsyncClient, finished: dict[str, str], message: str) -> None:
    response = await client.post(f"/api/estimate/{finished['job_id']}/chat", json={"message": message})
    assert response.status_code == 422

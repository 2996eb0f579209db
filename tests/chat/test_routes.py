"""The chat service's internal API, called as the gateway calls it: with the internal token and an owner."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
import pytest

from services.devstack.supervisor import Stack
from services.shared.internal import OWNER_HEADER, TOKEN_HEADER
from tests.api import bearer, estimate, requirements


@pytest.fixture
async def finished(stack: Stack, api_key: str) -> dict[str, Any]:
    async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(api_key), timeout=30) as client:
        return await estimate(client, {"requirements_md": requirements("Direct", "login", "search")})


def chat_service(stack: Stack, owner: str | None = "alice", token: str | None = None) -> httpx.AsyncClient:
    headers = {TOKEN_HEADER: stack.env_used["INTERNAL_TOKEN"] if token is None else token}
    if owner is not None:
        headers[OWNER_HEADER] = owner
    return httpx.AsyncClient(base_url=stack.env_used["CHAT_URL"], headers=headers, timeout=60)


async def test_a_turn_answers_and_is_stored_in_the_history(stack: Stack, finished: dict[str, Any]) -> None:
    async with chat_service(stack) as chat:
        reply = await chat.post(f"/internal/chat/{finished['job_id']}", json={"message": "Why that many hours?"})
    assert reply.status_code == 200, reply.text
    assert reply.json()["reply"] and reply.json()["revised"] is False and reply.json()["usage"]["calls"] >= 1


async def test_a_change_request_is_priced_by_code_as_a_new_revision(stack: Stack, finished: dict[str, Any]) -> None:
    async with chat_service(stack) as chat:
        reply = await chat.post(
            f"/internal/chat/{finished['job_id']}", json={"message": "Please add a payment integration with Stripe"}
        )
    body = reply.json()
    assert reply.status_code == 200 and body["revised"] is True and body["revision"] == 2


async def test_another_owner_and_an_unknown_job_are_404(stack: Stack, finished: dict[str, Any]) -> None:
    async with chat_service(stack, owner="mallory") as chat:
        assert (await chat.post(f"/internal/chat/{finished['job_id']}", json={"message": "hi"})).status_code == 404
    async with chat_service(stack) as chat:
        assert (await chat.post(f"/internal/chat/{uuid.uuid4()}", json={"message": "hi"})).status_code == 404


@pytest.mark.parametrize(("owner", "token"), [("alice", "wrong-token"), (None, None)])
async def test_callers_without_the_token_or_an_owner_are_refused(
    stack: Stack, finished: dict[str, Any], owner: str | None, token: str | None
) -> None:
    async with chat_service(stack, owner=owner, token=token) as chat:
        refused = await chat.post(f"/internal/chat/{finished['job_id']}", json={"message": "hi"})
    assert refused.status_code == 401

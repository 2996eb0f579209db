"""A chat turn Claude answered while saves was down is not lost: the client gets the reply at once, and the
turn is stored, once and with that reply, when saves is back.

Its own stack of real processes (saves is killed and started again), real Redis and PostgreSQL, the simulator.
"""

from __future__ import annotations

import asyncio
import json
import signal
import uuid
from pathlib import Path
from typing import Any

import httpx

from services.devstack.supervisor import create_demo_key
from tests.api import bearer, estimate, requirements
from tests.chat.test_routes import chat_service
from tests.stacks import isolated_stack, on_stores

SAVES_OUTAGE_S = 5


async def _history(client: httpx.AsyncClient, saves_url: str, job_id: str) -> list[dict[str, Any]]:
    response = await client.get(f"{saves_url}/internal/saves/by-job/{job_id}/chat")
    assert response.status_code == 200, response.text
    messages: list[dict[str, Any]] = response.json()["messages"]
    return messages


async def test_a_turn_answered_while_saves_is_down_is_stored_with_its_reply_when_saves_is_back(
    tmp_path: Path, redis_url: str, database_url: str, github_stub: str
) -> None:
    owner = f"keeper-{uuid.uuid4().hex[:8]}"
    # Slow enough that saves can be killed while Claude is still writing the answer.
    stack = isolated_stack(
        on_stores(redis_url, database_url, tmp_path),
        tmp_path / "logs",
        env={"GITHUB_API_URL": github_stub, "SIM_TOKENS_PER_SECOND": "100"},
    )
    try:
        await stack.start()
        key = await create_demo_key(stack.env_used, owner=owner)
        async with httpx.AsyncClient(base_url=stack.gateway_url, headers=bearer(key), timeout=60) as api:
            job = await estimate(api, {"requirements_md": requirements("Kept turn", "login", "search")})
        job_id = job["job_id"]
        async with chat_service(stack, owner=owner) as chat:
            before = await _history(chat, stack.env_used["SAVES_URL"], job_id)
            done: dict[str, Any] = {}
            turn: dict[str, Any] = {}
            async with chat.stream(
                "POST",
                f"/internal/chat/{job_id}",
                json={"message": "Why that many hours?"},
                headers={"Accept": "text/event-stream"},
            ) as response:
                event = ""
                async for line in response.aiter_lines():
                    if line.startswith("event:"):
                        event = line[6:].strip()
                    elif line.startswith("data:"):
                        data = json.loads(line[5:])
                        if event == "turn":
                            turn = data
                        elif event == "delta" and "saves" in stack.processes:
                            stack.stop(["saves"], signal.SIGKILL)
                        elif event in ("done", "error"):
                            done = {"event": event, **data}
            assert "saves" not in stack.processes, "Claude answered before saves could be killed"
            assert done["event"] == "done", done
            assert done["reply"] and done["stored"] is False
            state_path = f"/internal/chat/{job_id}/turns/{turn['turn_id']}"
            kept = (await chat.get(state_path)).json()
            assert kept["state"] == "succeeded" and kept["reply"]["reply"] == done["reply"], kept

            await asyncio.sleep(SAVES_OUTAGE_S)
            await stack.start_service("saves")
            for _ in range(600):
                state = (await chat.get(state_path)).json()
                if state["reply"]["stored"]:
                    break
                await asyncio.sleep(0.1)
            after = await _history(chat, stack.env_used["SAVES_URL"], job_id)
    finally:
        stack.stop()

    assert state["state"] == "succeeded" and state["reply"]["stored"] is True, state
    assert state["reply"]["reply"] == done["reply"]
    assert len(after) == len(before) + 2
    assert [(m["role"], m["content"]) for m in after[-2:]] == [
        ("user", "Why that many hours?"),
        ("assistant", done["reply"]),
    ]

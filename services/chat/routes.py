"""The chat service's internal route; the gateway forwards `POST /api/estimate/{job_id}/chat` here."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator
from typing import Annotated

from fastapi import APIRouter, Header
from sse_starlette import EventSourceResponse, ServerSentEvent

from services.chat.context import ChatContext, Context
from services.chat.conversation import chat_turn
from services.llm.calls import ClaudeCallError
from services.shared.contracts import ChatReply, ChatRequest
from services.shared.errors import ApiError
from services.shared.internal import InternalAuth, Owner

router = APIRouter(prefix="/internal/chat", dependencies=[InternalAuth])
_unfinished: set[asyncio.Task[None]] = set()


def _as_api_error(exc: ClaudeCallError) -> ApiError:
    return ApiError(503, exc.code, exc.message)


@router.post("/{job_id}", response_model=ChatReply)
async def chat(
    job_id: str,
    body: ChatRequest,
    owner: Owner,
    context: Context,
    accept: Annotated[str, Header()] = "application/json",
) -> ChatReply | EventSourceResponse:
    if "text/event-stream" in accept:
        await context.saves.get_save_by_job(owner, job_id)
        return EventSourceResponse(_stream(context, owner, job_id, body.message))
    try:
        return await chat_turn(context, owner, job_id, body.message)
    except ClaudeCallError as exc:
        raise _as_api_error(exc) from exc


async def _stream(context: ChatContext, owner: str, job_id: str, message: str) -> AsyncIterator[ServerSentEvent]:
    """Streams `delta` events as Claude writes, `reset` if a retry restarts the text, then `done` or `error`."""
    events: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()

    async def on_text(delta: str) -> None:
        await events.put(ServerSentEvent(data=json.dumps({"text": delta}), event="delta"))

    async def on_restart(_: str) -> None:
        await events.put(ServerSentEvent(data="{}", event="reset"))

    async def run() -> None:
        try:
            reply = await chat_turn(context, owner, job_id, message, on_text, on_restart)
            await events.put(ServerSentEvent(data=reply.model_dump_json(), event="done"))
        except (ClaudeCallError, ApiError) as exc:
            await events.put(
                ServerSentEvent(data=json.dumps({"error": {"code": exc.code, "message": exc.message}}), event="error")
            )
        finally:
            await events.put(None)

    # A client that disconnects does not cancel the turn: Claude's answer is paid for, so it is saved.
    task = asyncio.create_task(run())
    _unfinished.add(task)
    task.add_done_callback(_unfinished.discard)
    while (event := await events.get()) is not None:
        yield event

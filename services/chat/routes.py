"""The chat service's internal routes; the gateway forwards `/api/estimate/{job_id}/chat...` here.

A turn always runs to its end in its own task, whoever is still listening: Claude's answer is paid for,
so it is saved even if the client hangs up. Streaming clients get an event at once and keep-alives
after, so no proxy idles them out; JSON clients get the reply if it comes within `CHAT_SYNC_WAIT_S`,
otherwise 202 and where to read it, well inside a typical ingress's 60 s read timeout.
"""

from __future__ import annotations

import asyncio
from typing import Annotated

from fastapi import APIRouter, Header
from fastapi.responses import JSONResponse
from sse_starlette import EventSourceResponse

from services.chat.context import ChatContext, Context
from services.chat.conversation import NotYetStored, TurnEvents, chat_turn
from services.chat.streaming import TurnStream
from services.chat.turns import public_path
from services.chat.unstored import first_retry_s
from services.llm.calls import ClaudeCallError
from services.shared.contracts import ChatReply, ChatRequest, ErrorInfo, TurnState
from services.shared.errors import ApiError
from services.shared.internal import InternalAuth, Owner
from services.shared.log_context import log_context

router = APIRouter(prefix="/internal/chat", dependencies=[InternalAuth])
KEEP_ALIVE_S = 10
_unfinished: set[asyncio.Task[ChatReply]] = set()


def _as_api_error(exc: ClaudeCallError | ApiError) -> ApiError:
    return exc if isinstance(exc, ApiError) else ApiError(503, exc.code, exc.message)


def _start(
    context: ChatContext, owner: str, job_id: str, turn_id: str, message: str, events: TurnEvents
) -> asyncio.Task[ChatReply]:
    """Runs the turn to its end in its own task, records its outcome, then frees the save."""

    async def run() -> ChatReply:
        with log_context(job_id=job_id, owner=owner):
            return await _run_turn()

    async def _run_turn() -> ChatReply:
        async with context.turns.holding(job_id, turn_id):
            try:
                reply = await chat_turn(context, owner, job_id, message, events)
            except NotYetStored as kept:
                # Answered and paid for, but saves could not store it: the client gets the reply now,
                # and the turn is stored in the background (services/chat/unstored.py).
                await context.turns.keep_unstored(owner, job_id, turn_id, kept.reply, kept.turn, first_retry_s())
                return kept.reply
            except (ClaudeCallError, ApiError) as exc:
                await context.turns.finish(owner, job_id, turn_id, ErrorInfo(code=exc.code, message=exc.message))
                raise
            except Exception:
                failure = ErrorInfo(code="internal_error", message="the turn failed")
                await context.turns.finish(owner, job_id, turn_id, failure)
                raise
            await context.turns.finish(owner, job_id, turn_id, reply)
            return reply

    task = asyncio.create_task(run())
    _unfinished.add(task)
    task.add_done_callback(_unfinished.discard)
    return task


async def finish_turns(timeout_s: float) -> int:
    """Lets the turns in progress end when the replica stops (a rollout): each one is being paid for.

    Returns how many were still running after `timeout_s` and were cut; their saves free themselves when
    the turn lease runs out.
    """
    if not _unfinished:
        return 0
    _, cut = await asyncio.wait(set(_unfinished), timeout=timeout_s)
    for task in cut:
        task.cancel()
    return len(cut)


@router.post("/{job_id}", response_model=ChatReply)
async def chat(
    job_id: str,
    body: ChatRequest,
    owner: Owner,
    context: Context,
    accept: Annotated[str, Header()] = "application/json",
) -> ChatReply | EventSourceResponse | JSONResponse:
    await context.saves.get_save_by_job(owner, job_id)
    turn_id = await context.turns.begin(owner, job_id)
    if "text/event-stream" in accept:
        stream = TurnStream(job_id, turn_id)
        stream.follow(_start(context, owner, job_id, turn_id, body.message, stream.listeners()))
        return EventSourceResponse(stream.events(), ping=KEEP_ALIVE_S, headers={"X-Accel-Buffering": "no"})
    task = _start(context, owner, job_id, turn_id, body.message, TurnEvents())
    try:
        return await asyncio.wait_for(asyncio.shield(task), context.settings.chat_sync_wait_s)
    except TimeoutError:
        running = TurnState(turn_id=turn_id, job_id=job_id, state="running")
        return JSONResponse(
            running.model_dump(mode="json"), status_code=202, headers={"Location": public_path(job_id, turn_id)}
        )
    except (ClaudeCallError, ApiError) as exc:
        raise _as_api_error(exc) from exc


@router.get("/{job_id}/turns/{turn_id}", response_model=TurnState)
async def turn_state(job_id: str, turn_id: str, owner: Owner, context: Context) -> TurnState:
    return await context.turns.state(owner, job_id, turn_id)

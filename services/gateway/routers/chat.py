"""Chatting about an estimate: forwarded to the chat service, streamed through when asked to."""

from __future__ import annotations

import re
from typing import Annotated

import httpx
from fastapi import APIRouter, Header, Request, Response
from fastapi.responses import JSONResponse, StreamingResponse
from starlette.background import BackgroundTask

from services.gateway.auth import CurrentOwner
from services.gateway.routers.estimates import live_job, no_such_job
from services.gateway.routers.saves import NOT_MODIFIED, IfNoneMatch, cached_read, conditional
from services.gateway.schemas import error_responses, known_id
from services.gateway.state import GatewayState, State
from services.shared.contracts import ChatHistory, ChatReply, ChatRequest, TurnState
from services.shared.errors import ApiError, error_from_response
from services.shared.internal import internal_headers
from services.shared.observability import counted_stream
from services.shared.read_model import chat_view

router = APIRouter(prefix="/api/estimate", tags=["chat"])
TURN_ID = re.compile(r"[0-9a-f]{32}")
EVENT_STREAM = "text/event-stream"


async def _require_chattable(state: GatewayState, owner: str, job_id: str) -> None:
    """Jobs still in Redis are checked here; older ones are resolved by the chat service through their save."""
    job = await live_job(state, job_id)
    if job is None:
        return
    if job.owner != owner:
        raise no_such_job()
    if job.status != "succeeded":
        raise ApiError(409, "estimate_not_ready", f"the estimate is {job.status}; chat opens when it has succeeded")


@router.post(
    "/{job_id}/chat",
    response_model=ChatReply,
    responses={
        200: {
            "content": {EVENT_STREAM: {}},
            "description": (
                "JSON reply; or with `Accept: text/event-stream` a `turn` event at once, `wait` events while "
                "the turn waits for Claude capacity, `delta` events as Claude writes, then `done` or `error`."
            ),
        },
        202: {
            "model": TurnState,
            "description": "The JSON turn is still running after `CHAT_SYNC_WAIT_S`: read it at `Location`.",
        },
        **error_responses(401, 404, 409, 413, 422, 429, 503),
    },
    summary="Ask Claude about the estimate; a turn may revise it",
)
async def chat(
    job_id: str,
    body: ChatRequest,
    owner: CurrentOwner,
    state: State,
    request: Request,
    response: Response,
    accept: Annotated[str, Header()] = "application/json",
) -> Response | ChatReply:
    await state.limits.check("chat", request, response, owner)
    await _require_chattable(state, owner, job_id)
    streamed = EVENT_STREAM in accept
    upstream_request = state.chat.build_request(
        "POST",
        f"/internal/chat/{known_id(job_id)}",
        json=body.model_dump(),
        # Only what the chat service tells apart is passed on: a client's header is never copied into ours.
        headers={**internal_headers(state.settings, owner), "Accept": EVENT_STREAM if streamed else "application/json"},
    )
    try:
        upstream = await state.chat.send(upstream_request, stream=True)
    except httpx.HTTPError as exc:
        raise ApiError(503, "dependency_unavailable", "the chat service is unavailable") from exc
    if upstream.status_code >= 400:
        await upstream.aread()
        await upstream.aclose()
        raise error_from_response(upstream, "chat")
    if upstream.headers.get("content-type", "").startswith(EVENT_STREAM):
        return StreamingResponse(
            counted_stream("chat_turn", upstream.aiter_raw()),
            media_type=EVENT_STREAM,
            headers={**response.headers, "Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
            background=BackgroundTask(upstream.aclose),
        )
    try:
        payload = await upstream.aread()
    finally:
        await upstream.aclose()
    if upstream.status_code == 202:
        running = TurnState.model_validate_json(payload)
        headers = {**response.headers, "Location": upstream.headers.get("Location", "")}
        return JSONResponse(running.model_dump(mode="json"), status_code=202, headers=headers)
    return ChatReply.model_validate_json(payload)


@router.get(
    "/{job_id}/chat/turns/{turn_id}",
    response_model=TurnState,
    responses=error_responses(401, 404, 503),
    summary="A chat turn's state, and its reply or error once finished (kept for an hour)",
)
async def chat_turn_state(job_id: str, turn_id: str, owner: CurrentOwner, state: State) -> TurnState:
    if not TURN_ID.fullmatch(turn_id):
        raise ApiError(404, "not_found", "no such chat turn (turns are kept for an hour)")
    try:
        upstream = await state.chat.get(
            f"/internal/chat/{known_id(job_id)}/turns/{turn_id}", headers=internal_headers(state.settings, owner)
        )
    except httpx.HTTPError as exc:
        raise ApiError(503, "dependency_unavailable", "the chat service is unavailable") from exc
    if upstream.status_code >= 400:
        raise error_from_response(upstream, "chat")
    return TurnState.model_validate_json(upstream.content)


@router.get(
    "/{job_id}/chat",
    response_model=ChatHistory,
    responses={**NOT_MODIFIED, **error_responses(401, 404, 503)},
    summary="The chat history of an estimate, oldest first",
)
async def chat_history(job_id: str, owner: CurrentOwner, state: State, if_none_match: IfNoneMatch = None) -> Response:
    path = f"/internal/saves/by-job/{known_id(job_id)}/chat"
    return conditional(await cached_read(state, owner, chat_view(job_id), path), if_none_match)

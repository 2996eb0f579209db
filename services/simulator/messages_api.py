"""`/v1/messages` and `/v1/messages/count_tokens`, answering what the anthropic SDK sends."""

from __future__ import annotations

import json
from functools import partial
from typing import Annotated, TypeVar

from fastapi import APIRouter, Depends, Header, Request
from fastapi.responses import JSONResponse, Response
from pydantic import ValidationError
from sse_starlette import EventSourceResponse

from services.simulator.errors import SimulatorError, invalid_request
from services.simulator.payloads import message_body
from services.simulator.simulator import Simulator
from services.simulator.streaming import Pacing, message_events, pause, ping
from services.simulator.tokens import count_input_tokens
from services.simulator.wire import CountTokensRequest, MessagesRequest

RequestT = TypeVar("RequestT", bound=CountTokensRequest)


async def require_api_key(
    x_api_key: Annotated[str, Header()] = "", authorization: Annotated[str, Header()] = ""
) -> None:
    """Any key is accepted, but one must be sent, in either header the SDK uses."""
    scheme, _, token = authorization.partition(" ")
    if not x_api_key.strip() and not (scheme.lower() == "bearer" and token.strip()):
        raise SimulatorError(401, "authentication_error", "x-api-key header is required")


async def _parse(request: Request, model: type[RequestT]) -> RequestT:
    try:
        data = json.loads(await request.body())
    except ValueError as exc:
        raise SimulatorError(400, "invalid_request_error", "The request body is not valid JSON.") from exc
    try:
        parsed = model.model_validate(data)
    except ValidationError as exc:
        raise invalid_request(exc) from exc
    choice = parsed.tool_choice
    if choice is not None and choice.type in ("any", "tool") and not parsed.tools:
        raise SimulatorError(400, "invalid_request_error", "tool_choice requires tools to be provided")
    if choice is not None and choice.type == "tool" and parsed.forced_tool() is None:
        message = f"tool_choice.name: tool '{choice.name}' is not among the provided tools"
        raise SimulatorError(400, "invalid_request_error", message)
    return parsed


def messages_router(simulator: Simulator) -> APIRouter:
    router = APIRouter(dependencies=[Depends(require_api_key)])
    config = simulator.config
    pacing = Pacing(config.tokens_per_second, config.first_token_latency_s)

    @router.post("/v1/messages")
    async def create_message(request: Request) -> Response:
        body = await _parse(request, MessagesRequest)
        turn = simulator.begin(body)
        if body.stream:
            return EventSourceResponse(
                message_events(turn, pacing, partial(simulator.finish, turn)),
                ping=config.ping_interval_s,
                ping_message_factory=ping,
            )
        try:
            await pause(pacing.seconds_for_answer(turn.answer.output_tokens))
        finally:
            simulator.finish(turn, turn.answer.output_tokens)
        return JSONResponse(message_body(turn, complete=True))

    @router.post("/v1/messages/count_tokens")
    async def count_tokens(request: Request) -> dict[str, int]:
        body = await _parse(request, CountTokensRequest)
        return {"input_tokens": count_input_tokens(body)}

    return router

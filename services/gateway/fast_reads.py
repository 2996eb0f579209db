"""The hottest reads, served without FastAPI's per-request machinery.

Polling a job's status and reading saves are most of what the plan's 1000 users send (80 % reads).
For those GETs FastAPI's own request handling (routing over every route, building the request,
solving dependencies) was about 40 % of the gateway's CPU per request, measured in-process; under the
1000-user mix the gateway was CPU-bound. These routes call the very same endpoint functions as the
FastAPI routes they shadow, with the same authentication. They match only the plain form of each read;
anything else (`?include=methodology`, a cursor, a limit out of range, an overlong header) goes to the
FastAPI route, which validates it, answers it, and documents every one of these routes in the OpenAPI.

They are served by a lane at the front of the middleware stack (`install`), not by the router at its
end. The stack's layers (FastAPI's telemetry and body limit, ours, exception handling, an exit stack, routing)
are each a coroutine, most with a `send` wrapper, on every request: under a status flood, py-spy found
9.5 % of the gateway's samples between uvicorn and the endpoint against 14.6 % in the endpoint itself,
and the lane raised the status route's throughput by 13 %. It keeps what a read needs of those layers:
the head limits, the request metrics and the app's own exception handlers, so answers, errors and
metrics are the same either way.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import FastAPI
from starlette.middleware.errors import ServerErrorMiddleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import ASGIApp, HTTPExceptionHandler, Receive, Scope, Send

from services.gateway.auth import authenticate
from services.gateway.routers import chat, estimates, saves
from services.gateway.state import GatewayState
from services.shared.contracts import DEFAULT_PAGE, MAX_PAGE
from services.shared.http_limits import RequestHeadLimitMiddleware
from services.shared.observability import MetricsMiddleware
from services.shared.settings import get_http_settings

Handler = Callable[[Request, str, GatewayState], Awaitable[Response]]


class FastRead(Route):
    """A GET route that only claims requests whose query is one of `plain_queries` (b"" for none)."""

    def __init__(self, path: str, handler: Handler, plain_queries: Callable[[bytes], bool]) -> None:
        async def endpoint(request: Request) -> Response:
            return await handler(request, await authenticate(request), request.app.state.gateway)

        super().__init__(path, endpoint, methods=["GET"], include_in_schema=False)
        self.plain_queries = plain_queries

    def matches(self, scope: Scope) -> tuple[Match, Scope]:
        if scope["type"] != "http" or scope["method"] != "GET" or not self.plain_queries(scope["query_string"]):
            return Match.NONE, {}
        match, child = super().matches(scope)  # the path first: the headers are read for one route at most
        if match is not Match.FULL:
            return Match.NONE, {}
        if any(name == b"if-none-match" and len(value) > saves.MAX_IF_NONE_MATCH for name, value in scope["headers"]):
            return Match.NONE, {}  # FastAPI's validation refuses it, as it would have anyway
        # As FastAPI's routes do: metrics and traces label the request with this route's template.
        return match, {**child, "route": self}


def _no_query(query: bytes) -> bool:
    return not query


def _page_limit_only(query: bytes) -> bool:
    """`limit=N` alone, N within the route's bounds (what the k6 users and most clients send)."""
    if not query:
        return True
    name, _, value = query.partition(b"=")
    return name == b"limit" and value.isdigit() and 1 <= int(value) <= MAX_PAGE


async def _status(request: Request, owner: str, state: GatewayState) -> Response:
    return await estimates.job_status(request.path_params["job_id"], owner, state)


async def _save(request: Request, owner: str, state: GatewayState) -> Response:
    return await saves.get_save(request.path_params["save_id"], owner, state, request.headers.get("if-none-match"))


async def _saves(request: Request, owner: str, state: GatewayState) -> Response:
    limit = int(request.query_params.get("limit", DEFAULT_PAGE))
    return await saves.list_saves(owner, state, request.headers.get("if-none-match"), limit)


async def _chat_history(request: Request, owner: str, state: GatewayState) -> Response:
    return await chat.chat_history(request.path_params["job_id"], owner, state, request.headers.get("if-none-match"))


ROUTES = [
    FastRead("/api/estimate/{job_id}/status", _status, _no_query),
    FastRead("/api/estimate/{job_id}/chat", _chat_history, _no_query),
    FastRead("/api/saves", _saves, _page_limit_only),
    FastRead("/api/saves/{save_id}", _save, _no_query),
]


class FastReadLane:
    """Serves the requests one of `ROUTES` claims; hands every other request to the rest of the stack."""

    def __init__(self, stack: ASGIApp, app: FastAPI, service: str) -> None:
        self.stack = stack
        limits = get_http_settings()
        self.lane = RequestHeadLimitMiddleware(
            MetricsMiddleware(self.serve, service), limits.max_header_bytes, limits.max_header_field_bytes
        )
        # What Starlette's ExceptionMiddleware handles; the rest (a bug: 500) is left to ServerErrorMiddleware.
        self.handlers: dict[Any, HTTPExceptionHandler] = {
            kind: handler for kind, handler in app.exception_handlers.items() if kind not in (500, Exception)
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http":
            for route in ROUTES:
                match, child = route.matches(scope)
                if match is Match.FULL:
                    scope.update(child)
                    await self.lane(scope, receive, send)
                    return
        await self.stack(scope, receive, send)

    async def serve(self, scope: Scope, receive: Receive, send: Send) -> None:
        request = Request(scope, receive)
        try:
            response = await scope["endpoint"](request)
        except Exception as exc:
            handler = self.handler_for(exc)
            if handler is None:
                raise
            handled = handler(request, exc)
            response = handled if isinstance(handled, Response) else await handled
        await response(scope, receive, send)

    def handler_for(self, exc: Exception) -> HTTPExceptionHandler | None:
        """The app's handler for `exc`, looked up along its class's MRO as Starlette does.

        Not Starlette's ExceptionMiddleware: it wraps every `send` to learn whether the response has started,
        one of the layers the lane exists to skip; here an exception can only come before the response does."""
        for kind in type(exc).__mro__:
            if kind in self.handlers:
                return self.handlers[kind]
        return None


def install(app: FastAPI, service: str) -> None:
    """Puts the lane just inside the outermost layer of the app's stack (which Starlette builds on the first
    request), `ServerErrorMiddleware`: a bug still gets the app's JSON 500, and OpenTelemetry's
    instrumentation, which rebuilds that layer, still traces every request."""
    build = app.build_middleware_stack

    def build_with_lane() -> ASGIApp:
        stack = build()
        if not isinstance(stack, ServerErrorMiddleware):
            raise TypeError(f"Starlette's stack starts with {type(stack).__name__}, not ServerErrorMiddleware")
        stack.app = FastReadLane(stack.app, app, service)
        return stack

    app.build_middleware_stack = build_with_lane  # type: ignore[method-assign]

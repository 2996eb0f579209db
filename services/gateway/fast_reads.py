"""The hottest reads, served without FastAPI's per-request machinery.

Polling a job's status and reading saves are most of what the plan's 1000 users send (80 % reads).
For those GETs FastAPI's own request handling (routing over every route, building the request,
solving dependencies) was about 40 % of the gateway's CPU per request, measured in-process; under the
1000-user mix the gateway was CPU-bound. These Starlette routes sit in front of the FastAPI routes
they shadow and call the very same endpoint functions with the same authentication. They match only
the plain form of each read; anything else (`?include=methodology`, a cursor, a limit out of range, an
overlong header) falls through to the FastAPI route, which validates it, answers it, and documents
every one of these routes in the OpenAPI.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Match, Route
from starlette.types import Scope

from services.gateway.auth import authenticate
from services.gateway.routers import chat, estimates, saves
from services.gateway.state import GatewayState
from services.shared.contracts import DEFAULT_PAGE, MAX_PAGE

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
        if any(name == b"if-none-match" and len(value) > saves.MAX_IF_NONE_MATCH for name, value in scope["headers"]):
            return Match.NONE, {}  # FastAPI's validation refuses it, as it would have anyway
        match, child = super().matches(scope)
        # As FastAPI's routes do: metrics and traces label the request with this route's template.
        return match, {**child, "route": self} if match is Match.FULL else child


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

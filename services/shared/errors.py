"""The single error envelope every service speaks: `{"error": {"code", "message"}}`.

Internal services use the same shape so the gateway can pass their errors through unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.routing import BaseRoute, Match

log = logging.getLogger(__name__)

_DEFAULT_CODES = {
    400: "bad_request",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "payload_too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    502: "bad_gateway",
    503: "service_unavailable",
}


# What a 503 without a better estimate tells the client to wait: about a restarting pod's readiness delay.
UNAVAILABLE_RETRY_AFTER_S = 5


class ApiError(Exception):
    """Raise anywhere in a request to answer with the error envelope."""

    def __init__(self, status: int, code: str, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def error_from_response(response: httpx.Response, service: str) -> ApiError:
    """An internal service's error, passed on with its own code; garbage or a 5xx becomes a 503."""
    try:
        error = response.json()["error"]
        retry_after = response.headers.get("Retry-After")
        headers = {"Retry-After": retry_after} if retry_after else None
        return ApiError(response.status_code, str(error["code"]), str(error["message"]), headers)
    except (ValueError, KeyError, TypeError):
        status = 503 if response.status_code >= 500 else response.status_code
        return ApiError(status, "dependency_unavailable", f"the {service} service answered {response.status_code}")


def error_body(code: str, message: str) -> dict[str, dict[str, str]]:
    return {"error": {"code": code, "message": message}}


def error_response(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> JSONResponse:
    """A 503 always says when to come back: a client (or a proxy) then retries instead of failing."""
    if status == 503 and not any(name.lower() == "retry-after" for name in headers or {}):
        headers = {**(headers or {}), "Retry-After": str(UNAVAILABLE_RETRY_AFTER_S)}
    return JSONResponse(error_body(code, message), status_code=status, headers=headers)


def describe_validation(errors: Sequence[Any]) -> str:
    parts = []
    for err in list(errors)[:5]:
        loc = ".".join(str(p) for p in err.get("loc", ()) if p != "body")
        parts.append(f"{loc or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


METHODS = ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT")


def allowed_methods(routes: Sequence[BaseRoute], request: Request) -> list[str]:
    """Every method some route answers at the request's path, for a 405's `Allow`.

    Starlette's own `Allow` names only the first route that matched the path, so a path served by several
    routes (a GET in front of a PATCH and a DELETE) would be described as allowing the GET alone. Each method
    is asked of every route as the router itself would ask it, routers included by FastAPI among them.
    """
    return [
        method
        for method in METHODS
        if any(route.matches({**request.scope, "method": method})[0] is Match.FULL for route in routes)
    ]


class Render(Protocol):
    """How a service words an error: ours is `{"error": {code, message}}`; the simulator speaks Anthropic's."""

    def __call__(
        self, request: Request, status: int, code: str, message: str, headers: dict[str, str] | None
    ) -> JSONResponse: ...


def _ours(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None) -> JSONResponse:
    return error_response(status, code, message, headers)


@dataclass(frozen=True)
class ErrorStyle:
    render: Render = _ours
    codes: Mapping[int, str] = field(default_factory=lambda: _DEFAULT_CODES)
    validation: tuple[int, str] = (422, "validation_error")
    internal: str = "internal_error"


def install_error_handlers(app: FastAPI, style: ErrorStyle | None = None) -> None:
    """Every failure a route can meet, in the service's words; nothing reaches the client as a bare 500."""
    style = style or ErrorStyle()

    async def on_api_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, ApiError)
        return style.render(request, exc.status, exc.code, exc.message, exc.headers)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        code = style.codes.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        headers = dict(exc.headers or {})
        if exc.status_code == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app.router.routes, request))
        return style.render(request, exc.status_code, code, message, headers)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        status, code = style.validation
        return style.render(request, status, code, describe_validation(exc.errors()), None)

    async def on_store_down(request: Request, exc: Exception) -> JSONResponse:
        log.warning("a store is unreachable: %s", exc)
        message = "a storage dependency is unavailable; retry shortly"
        return style.render(request, 503, "dependency_unavailable", message, None)

    async def on_invalid_url(request: Request, exc: Exception) -> JSONResponse:
        # A call to another service whose URL could not be built from what the client sent: it names nothing.
        log.warning("an internal URL could not be built: %s", exc)
        return style.render(request, 404, style.codes.get(404, "not_found"), "no such record", None)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return style.render(request, 500, style.internal, "internal error", None)

    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(RedisConnectionError, on_store_down)
    app.add_exception_handler(RedisTimeoutError, on_store_down)
    app.add_exception_handler(httpx.InvalidURL, on_invalid_url)
    app.add_exception_handler(Exception, on_unexpected)

"""Errors in Anthropic's own shape, so the SDK raises the same exception classes it would in production."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import ValidationError
from starlette.exceptions import HTTPException as StarletteHTTPException

log = logging.getLogger(__name__)

_TYPES_BY_STATUS = {
    400: "invalid_request_error",
    401: "authentication_error",
    403: "permission_error",
    404: "not_found_error",
    405: "invalid_request_error",
    413: "request_too_large",
    429: "rate_limit_error",
    529: "overloaded_error",
}


class SimulatorError(Exception):
    def __init__(
        self,
        status: int,
        error_type: str,
        message: str,
        *,
        headers: dict[str, str] | None = None,
        details: dict[str, Any] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error_type = error_type
        self.message = message
        self.headers = headers or {}
        self.details = details


def error_body(
    error_type: str, message: str, request_id: str | None = None, details: dict[str, Any] | None = None
) -> dict[str, Any]:
    error: dict[str, Any] = {"type": error_type, "message": message}
    if details is not None:
        error["details"] = details
    body: dict[str, Any] = {"type": "error", "error": error}
    if request_id is not None:
        body["request_id"] = request_id
    return body


def describe_validation(errors: list[Any]) -> str:
    parts = []
    for err in errors[:5]:
        location = ".".join(str(part) for part in err.get("loc", ()) if part != "body")
        parts.append(f"{location or 'body'}: {err.get('msg', 'invalid')}")
    return "; ".join(parts) or "invalid request"


def invalid_request(exc: ValidationError) -> SimulatorError:
    return SimulatorError(400, "invalid_request_error", describe_validation(list(exc.errors())))


def install_error_handlers(app: FastAPI) -> None:
    def respond(request: Request, status: int, error: SimulatorError | None, **fields: Any) -> JSONResponse:
        request_id = getattr(request.state, "request_id", None)
        if error is not None:
            body = error_body(error.error_type, error.message, request_id, error.details)
            return JSONResponse(body, status_code=status, headers=error.headers)
        return JSONResponse(error_body(request_id=request_id, **fields), status_code=status)

    async def on_simulator_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SimulatorError)
        return respond(request, exc.status, exc)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        error_type = _TYPES_BY_STATUS.get(exc.status_code, "api_error")
        message = exc.detail if isinstance(exc.detail, str) else error_type
        return respond(request, exc.status_code, None, error_type=error_type, message=message)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        message = describe_validation(list(exc.errors()))
        return respond(request, 400, None, error_type="invalid_request_error", message=message)

    async def on_unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("simulator failed", exc_info=exc)
        return respond(request, 500, None, error_type="api_error", message="Internal server error")

    app.add_exception_handler(SimulatorError, on_simulator_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(Exception, on_unexpected)

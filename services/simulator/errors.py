"""Errors in Anthropic's own shape, so the SDK raises the same exception classes it would in production."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from pydantic import ValidationError

from services.shared.errors import ErrorStyle, describe_validation
from services.shared.errors import install_error_handlers as shared_install

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


def invalid_request(exc: ValidationError) -> SimulatorError:
    return SimulatorError(400, "invalid_request_error", describe_validation(exc.errors()))


def _anthropic(request: Request, status: int, code: str, message: str, headers: dict[str, str] | None) -> JSONResponse:
    body = error_body(code, message, getattr(request.state, "request_id", None))
    return JSONResponse(body, status_code=status, headers=headers)


ANTHROPIC_STYLE = ErrorStyle(
    render=_anthropic, codes=_TYPES_BY_STATUS, validation=(400, "invalid_request_error"), internal="api_error"
)


def install_error_handlers(app: FastAPI) -> None:
    """The shared handlers in Anthropic's words, plus the simulator's own errors (which carry details)."""
    shared_install(app, ANTHROPIC_STYLE)

    async def on_simulator_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, SimulatorError)
        body = error_body(exc.error_type, exc.message, getattr(request.state, "request_id", None), exc.details)
        return JSONResponse(body, status_code=exc.status, headers=exc.headers)

    app.add_exception_handler(SimulatorError, on_simulator_error)

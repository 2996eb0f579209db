"""Our own retry policy for Claude calls (the SDK's retries are off).

Transient answers (429 with `retry-after`, 529 overloaded, other 5xx, timeouts, connection errors, and an
`overloaded_error` arriving in the middle of a stream) are retried with full jitter until the caller's
deadline. A 429 without `retry-after` is a spend limit: retrying cannot help, so it fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

import anthropic

log = logging.getLogger(__name__)
T = TypeVar("T")

BASE_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


class ClaudeCallError(Exception):
    """A Claude failure to show the user: `code` becomes the job's (or the chat turn's) error code."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def retry_after_s(exc: BaseException) -> float | None:
    if isinstance(exc, anthropic.APIStatusError):
        value = exc.response.headers.get("retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                return None
    return None


def is_spend_limit(exc: BaseException) -> bool:
    return isinstance(exc, anthropic.RateLimitError) and retry_after_s(exc) is None


def _error_type(exc: anthropic.APIStatusError) -> str | None:
    body = exc.body if isinstance(exc.body, dict) else {}
    error = body.get("error", body)
    return error.get("type") if isinstance(error, dict) else None


def is_transient(exc: BaseException) -> bool:
    if isinstance(exc, anthropic.APIStatusError) and _error_type(exc) in ("overloaded_error", "api_error"):
        return True  # an error event in the middle of a stream arrives with the stream's 200 status
    if isinstance(exc, anthropic.RateLimitError):
        return not is_spend_limit(exc)
    if isinstance(exc, anthropic.APIStatusError):
        return exc.status_code >= 500
    if isinstance(exc, anthropic.APIConnectionError | anthropic.APITimeoutError):
        return True
    if isinstance(exc, anthropic.APIError):
        return "overloaded" in str(exc).lower()
    return False


def classify(exc: BaseException) -> ClaudeCallError:
    if is_spend_limit(exc):
        return ClaudeCallError("claude_spend_limit", "the Claude spend limit of this organisation is reached")
    if is_transient(exc):
        return ClaudeCallError("claude_unavailable", "Claude stayed unavailable until the deadline")
    if isinstance(exc, anthropic.AuthenticationError | anthropic.PermissionDeniedError):
        return ClaudeCallError("claude_auth_failed", "Claude refused our credentials")
    return ClaudeCallError("claude_rejected", f"Claude rejected the request: {type(exc).__name__}")


def backoff_s(attempt: int, exc: BaseException) -> float:
    """Full jitter (AWS architecture blog) but never earlier than the server's `retry-after`."""
    jitter = random.uniform(0, min(MAX_BACKOFF_S, BASE_BACKOFF_S * 2**attempt))
    hint = retry_after_s(exc)
    return max(hint, jitter) if hint is not None else jitter


async def with_retries(call: Callable[[], Awaitable[T]], deadline: float) -> T:
    """Runs `call` until it succeeds, fails permanently, or the monotonic `deadline` would be passed."""
    attempt = 0
    while True:
        try:
            return await call()
        except anthropic.APIError as exc:
            if not is_transient(exc):
                raise classify(exc) from exc
            delay = backoff_s(attempt, exc)
            if time.monotonic() + delay >= deadline:
                raise classify(exc) from exc
            log.warning("claude transient error %s, retrying in %.1fs", type(exc).__name__, delay)
            attempt += 1
            await asyncio.sleep(delay)

"""Every Claude call goes through here: the fleet budget, then our own retry policy (the SDK's are off).

Transient answers (429 with `retry-after`, 529 overloaded, other 5xx, timeouts, connection errors, and an
`overloaded_error` or a broken connection in the middle of a stream) are retried with full jitter until the caller's
deadline. A 429 without `retry-after` is a spend limit: retrying cannot help, so it fails at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable

import anthropic
import httpx2
from anthropic.types import Message
from opentelemetry import trace
from opentelemetry.trace import SpanKind, StatusCode

from services.llm.budget import CapacityTimeout, FleetBudget, LinePlace, Priority, WaitListener
from services.llm.metrics import COST, REQUESTS, RETRY_AFTER, outcome_of
from services.llm.pricing import ModelPrice, usage_of
from services.llm.spans import request_attributes, response_attributes
from services.shared.contracts import Usage

log = logging.getLogger(__name__)
TRACER = trace.get_tracer(__name__)

BASE_BACKOFF_S = 1.0
MAX_BACKOFF_S = 30.0


class ClaudeCallError(Exception):
    """A Claude failure to show the user: `code` becomes the job's (or the chat turn's) error code."""

    def __init__(self, code: str, message: str, usage: Usage | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.usage = usage


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
    if isinstance(exc, anthropic.APIConnectionError | anthropic.APITimeoutError | httpx2.TransportError):
        return True  # the SDK wraps transport errors before the response, but not while a stream is read
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


def _refused_before_output(exc: BaseException) -> bool:
    """A 429 (not a spend limit) or 529 status: the API generated nothing and charged nothing."""
    return isinstance(exc, anthropic.APIStatusError) and exc.status_code in (429, 529) and not is_spend_limit(exc)


async def _send(
    call: Callable[[], Awaitable[Message]], model: str, max_tokens: int, priority: Priority
) -> Message | anthropic.APIError | httpx2.TransportError:
    """One request to the Messages API as an OpenTelemetry GenAI client span; a failure is returned."""
    attributes = request_attributes(model, max_tokens, priority)
    with TRACER.start_as_current_span(f"chat {model}", kind=SpanKind.CLIENT, attributes=attributes) as span:
        try:
            message = await call()
        except (anthropic.APIError, httpx2.TransportError) as exc:
            span.set_status(StatusCode.ERROR)
            span.set_attribute("error.type", type(exc).__name__)
            return exc
        span.set_attributes(response_attributes(message))
        return message


async def call_claude(
    budget: FleetBudget,
    call: Callable[[], Awaitable[Message]],
    *,
    priority: Priority,
    input_tokens: int,
    max_tokens: int,
    price: ModelPrice,
    model: str,
    deadline: float,
    cache_kind: str | None = None,
    on_wait: WaitListener | None = None,
    admit_by: float | None = None,
    place: LinePlace | None = None,
) -> tuple[Message, Usage]:
    """Runs `call` inside the fleet budget until it succeeds, fails for good, or the monotonic deadline nears.

    Each attempt holds a budget slot; a refusal from upstream pauses the whole fleet for its
    `retry-after`, and the attempt's own back-off (full jitter, never shorter than `retry-after`) is
    slept outside the slot, so waiting never holds capacity. `admit_by`, when given, bounds the wait
    for capacity more tightly than the call's deadline: past it the call fails as `claude_busy`
    without having been charged. `place` keeps the work's place in line across its calls (`LinePlace`).
    """
    admission = deadline if admit_by is None else min(deadline, admit_by)
    attempt = 0
    while True:
        try:
            async with budget.slot(priority, input_tokens, max_tokens, admission, on_wait, cache_kind, place) as lease:
                sent = await _send(call, model, max_tokens, priority)
                if isinstance(sent, Message):
                    usage = usage_of(sent.usage, price)
                    lease.record(usage)
                    REQUESTS.labels(priority, "ok").inc()
                    COST.labels(priority).inc(usage.cost_usd)
                    return sent, usage
                failure = sent
                REQUESTS.labels(priority, outcome_of(failure)).inc()
                if _refused_before_output(failure):
                    lease.refused_upstream()
                    status = failure.status_code if isinstance(failure, anthropic.APIStatusError) else 0
                    hint = retry_after_s(failure)
                    if hint is not None:
                        RETRY_AFTER.labels(str(status)).observe(hint)
                    await budget.cool_down(hint or backoff_s(attempt, failure), status)
        except CapacityTimeout as exc:
            raise ClaudeCallError("claude_busy", "no Claude capacity was free before the deadline") from exc
        if not is_transient(failure):
            raise classify(failure) from failure
        delay = backoff_s(attempt, failure)
        if time.monotonic() + delay >= deadline:
            raise classify(failure) from failure
        log.warning(
            "claude transient error %s (%s), retrying in %.1fs", type(failure).__name__, str(failure)[:200], delay
        )
        attempt += 1
        await asyncio.sleep(delay)

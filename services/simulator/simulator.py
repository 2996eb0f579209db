"""One simulated Anthropic organization: its prompt cache, rate limits, armed faults and counters.

A request passes the same gates as at Anthropic, in the same order: an injected fault, then the rate
limits (with cache reads already discounted), and only then does it touch the cache and get an answer.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass

from services.simulator.cache import CachePlan, PromptCache
from services.simulator.config import SimulatorConfig
from services.simulator.errors import SimulatorError
from services.simulator.faults import FaultBoard, FaultSpec
from services.simulator.ratelimit import RateLimiter, RateLimitExceeded, Reservation
from services.simulator.responder import Answer, compose
from services.simulator.stats import SimStats
from services.simulator.tokens import prompt_segments
from services.simulator.wire import MessagesRequest

SPEND_LIMIT_MESSAGE = (
    "You have reached your workspace's spend limit. Requests will be refused until the limit is raised "
    "or the next billing period starts."
)


@dataclass(frozen=True)
class SimulatedCall:
    """An admitted request: what it was billed for input and what it will answer."""

    message_id: str
    model: str
    usage: CachePlan
    answer: Answer
    reservation: Reservation
    fail_mid_stream: bool


def _fault_error(fault: FaultSpec) -> SimulatorError:
    retry_after = {"retry-after": str(fault.retry_after)}
    if fault.kind == "overloaded":
        return SimulatorError(529, "overloaded_error", "Overloaded", headers=retry_after)
    if fault.kind == "rate_limited":
        message = "This request would exceed your organization's rate limit. Please try again later."
        return SimulatorError(429, "rate_limit_error", message, headers=retry_after)
    if fault.kind == "spend_limit":
        return SimulatorError(
            429,
            "rate_limit_error",
            SPEND_LIMIT_MESSAGE,
            headers={"x-should-retry": "false"},
            details={"error_code": "enforced_spend_limit_reached"},
        )
    return SimulatorError(500, "api_error", "Internal server error")


class Simulator:
    def __init__(self, config: SimulatorConfig, clock: Callable[[], float] = time.monotonic) -> None:
        self.config = config
        self.cache = PromptCache(
            ttl_s=config.cache_ttl_s,
            min_tokens=config.min_cacheable_tokens,
            max_entries=config.cache_max_entries,
            clock=clock,
        )
        self.limiter = RateLimiter(
            rpm=config.rpm, input_tpm=config.input_tpm, output_tpm=config.output_tpm, clock=clock
        )
        self.faults = FaultBoard(config.faults)
        self.stats = SimStats()

    def _record_refusal(self, status: int) -> None:
        if status == 429:
            self.stats.rate_limited += 1
        elif status == 529:
            self.stats.overloaded += 1
        elif status >= 500:
            self.stats.server_errors += 1

    def begin(self, request: MessagesRequest) -> SimulatedCall:
        """Admits the request or raises the error Anthropic would answer with.

        A request is in flight from here until `finish`, or until it is refused here: the peak is then
        every call the clients had open at once, refused ones included.
        """
        self.stats.request_started()
        try:
            return self._admit(request)
        except BaseException:
            self.stats.request_ended()
            raise

    def _admit(self, request: MessagesRequest) -> SimulatedCall:
        fault = self.faults.take(streaming=request.stream)
        if fault is not None and fault.kind != "overloaded_mid_stream":
            error = _fault_error(fault)
            self._record_refusal(error.status)
            raise error
        plan = self.cache.plan(request.model, prompt_segments(request))
        try:
            reservation = self.limiter.reserve(plan.input_tokens + plan.cache_creation_input_tokens, request.max_tokens)
        except RateLimitExceeded as exc:
            self._record_refusal(429)
            headers = {"retry-after": str(exc.retry_after_s)}
            raise SimulatorError(429, "rate_limit_error", str(exc), headers=headers) from exc
        self.cache.commit(plan)
        self.stats.input_tokens += plan.input_tokens
        self.stats.cache_creation_input_tokens += plan.cache_creation_input_tokens
        self.stats.cache_read_input_tokens += plan.cache_read_input_tokens
        if fault is not None:
            self._record_refusal(529)
        return SimulatedCall(
            message_id=f"msg_sim_{uuid.uuid4().hex[:24]}",
            model=request.model,
            usage=plan,
            answer=compose(request),
            reservation=reservation,
            fail_mid_stream=fault is not None,
        )

    def finish(self, turn: SimulatedCall, output_tokens: int) -> None:
        """Settles output tokens: what was produced, which a broken stream makes less than the answer."""
        self.limiter.settle(turn.reservation, output_tokens)
        self.stats.output_tokens += output_tokens
        self.stats.request_ended()

    def reset(self) -> None:
        self.cache.clear()
        self.limiter.reset()
        self.faults.clear()
        self.stats.reset()

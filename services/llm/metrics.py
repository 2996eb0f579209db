"""Claude calls as an SRE reads them: outcomes, cost, time to first token and upstream retry-after.

The budget's own gauges and token counters live with the budget (`services/llm/budget.py`); these are
about each request to the Messages API, recorded by `call_claude` and the streaming loops.
"""

from __future__ import annotations

import time

import anthropic
import httpx2
from prometheus_client import Counter, Histogram

REQUESTS = Counter(
    "estimator_llm_requests_total",
    "Requests sent to the Messages API, by outcome: ok, throttled (429), overloaded (529), timeout, error",
    ["priority", "outcome"],
)
COST = Counter("estimator_llm_cost_usd_total", "What Claude calls cost, in USD, priced by code", ["priority"])
TIME_TO_FIRST_TOKEN = Histogram(
    "estimator_llm_time_to_first_token_seconds",
    "From sending a request to its first streamed token",
    ["priority"],
    buckets=(0.25, 0.5, 1, 1.5, 2, 3, 5, 10, 20, 30),
)
RETRY_AFTER = Histogram(
    "estimator_llm_upstream_retry_after_seconds",
    "The retry-after Claude sent with a 429 or 529",
    ["status"],
    buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300),
)


def outcome_of(exc: BaseException) -> str:
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code == 429:
        return "throttled"
    if isinstance(exc, anthropic.APIStatusError) and exc.status_code == 529:
        return "overloaded"
    if isinstance(exc, anthropic.APITimeoutError | httpx2.TimeoutException):
        return "timeout"
    return "error"


class FirstToken:
    """Observes the time to the first token of one request, once, when the stream yields it."""

    def __init__(self, priority: str) -> None:
        self.priority = priority
        self.started = time.monotonic()
        self.seen = False

    def arrived(self) -> None:
        if not self.seen:
            self.seen = True
            TIME_TO_FIRST_TOKEN.labels(self.priority).observe(time.monotonic() - self.started)

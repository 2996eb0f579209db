"""Anthropic-style rate limits: per-minute token buckets that refill continuously, not fixed windows.

Hand-rolled rather than taken from `limits`, whose window strategies cannot hand back unused output
tokens at the end of a request, which is how Anthropic settles output tokens reserved from `max_tokens`.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta


class TokenBucket:
    def __init__(self, per_minute: int, clock: Callable[[], float]) -> None:
        self.capacity = per_minute
        self._rate_per_s = per_minute / 60.0
        self._clock = clock
        self._level = float(per_minute)
        self._updated = clock()

    def _refill(self) -> None:
        now = self._clock()
        self._level = min(self.capacity, self._level + (now - self._updated) * self._rate_per_s)
        self._updated = now

    def remaining(self) -> int:
        self._refill()
        return max(0, math.floor(self._level))

    def seconds_until(self, amount: float) -> float:
        """Wait before `amount` fits; a request larger than the whole bucket only needs a full bucket."""
        self._refill()
        return max(0.0, min(amount, self.capacity) - self._level) / self._rate_per_s

    def seconds_to_full(self) -> float:
        return self.seconds_until(self.capacity)

    def take(self, amount: float) -> None:
        self._refill()
        self._level -= min(amount, self.capacity)

    def give_back(self, amount: float) -> None:
        self._refill()
        self._level = min(self.capacity, self._level + amount)


class RateLimitExceeded(Exception):
    def __init__(self, limit_name: str, limit: int, retry_after_s: int) -> None:
        super().__init__(
            f"This request would exceed the rate limit for your organization of {limit:,} {limit_name} "
            "per minute. Please reduce the prompt length or the maximum tokens requested, or try again later."
        )
        self.retry_after_s = retry_after_s


@dataclass(frozen=True)
class Reservation:
    output_tokens: int


class RateLimiter:
    """Requests, input tokens (cache reads excluded by the caller) and output tokens, each its own bucket."""

    def __init__(
        self, *, rpm: int, input_tpm: int, output_tpm: int, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._limits = {"requests": rpm, "input-tokens": input_tpm, "output-tokens": output_tpm}
        self._clock = clock
        self.reset()

    def reset(self) -> None:
        self._buckets = {name: TokenBucket(limit, self._clock) for name, limit in self._limits.items()}

    def reserve(self, input_tokens: int, max_tokens: int) -> Reservation:
        """Takes from every bucket or from none; output is charged at `max_tokens` until `settle`."""
        wanted = {"requests": 1, "input-tokens": input_tokens, "output-tokens": max_tokens}
        for name, amount in wanted.items():
            wait = self._buckets[name].seconds_until(amount)
            if wait > 0:
                label = name.replace("-", " ")
                raise RateLimitExceeded(label, self._limits[name], max(1, math.ceil(wait)))
        for name, amount in wanted.items():
            self._buckets[name].take(amount)
        return Reservation(output_tokens=max_tokens)

    def settle(self, reservation: Reservation, output_tokens: int) -> None:
        unused = reservation.output_tokens - output_tokens
        if unused > 0:
            self._buckets["output-tokens"].give_back(unused)

    def headers(self) -> dict[str, str]:
        now = datetime.now(UTC).replace(microsecond=0)
        headers = {}
        for name, bucket in self._buckets.items():
            reset = now + timedelta(seconds=math.ceil(bucket.seconds_to_full()))
            headers[f"anthropic-ratelimit-{name}-limit"] = str(bucket.capacity)
            headers[f"anthropic-ratelimit-{name}-remaining"] = str(bucket.remaining())
            headers[f"anthropic-ratelimit-{name}-reset"] = reset.isoformat().replace("+00:00", "Z")
        return headers

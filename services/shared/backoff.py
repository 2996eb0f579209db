"""Full-jitter back-off (AWS architecture blog) for writes we must not give up on, such as a paid result's save."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from services.shared.errors import ApiError

T = TypeVar("T")
log = logging.getLogger(__name__)

BASE_S = 0.5
CAP_S = 10.0


def full_jitter(attempt: int, base_s: float = BASE_S, cap_s: float = CAP_S) -> float:
    """A random delay in [0, min(cap, base * 2**attempt)]."""
    return random.uniform(0, min(cap_s, base_s * 2 ** min(attempt, 30)))


def is_retryable(exc: ApiError) -> bool:
    """A saves answer worth retrying: 5xx, or unreachable (503 `dependency_unavailable`). A 4xx never changes."""
    return exc.status >= 500


async def until_stored(
    write: Callable[[], Awaitable[T]],
    deadline: float,
    what: str,
    on_retry: Callable[[int, ApiError], Awaitable[None]] | None = None,
    *,
    base_s: float = BASE_S,
    cap_s: float = CAP_S,
) -> T:
    """Runs `write` until it succeeds, a 4xx says it never will, or the monotonic `deadline` would pass.

    The last retryable error is raised when the next try would start after the deadline.
    """
    attempt = 0
    while True:
        try:
            return await write()
        except ApiError as exc:
            if not is_retryable(exc):
                raise
            delay = full_jitter(attempt, base_s, cap_s)
            if time.monotonic() + delay >= deadline:
                raise
            log.warning("%s failed (%s), try %d, next in %.1f s", what, exc.code, attempt + 1, delay)
            if on_retry is not None:
                await on_retry(attempt, exc)
            attempt += 1
            await asyncio.sleep(delay)

"""Concurrent identical misses share one call.

When a write moves an owner to a new generation, every reader of that owner misses at once; without
this, each of them would ask the saves service for the same answer (a herd that queued reads for
seconds in the 1000-user benchmark). The key names the generation a reader saw, so a read that starts
after a write never joins a call that started before it.

Written here rather than taken from a library: the well-kept async caches (aiocache, cashews) either
lack request coalescing or bring their own storage, and this is the twenty lines of it we need.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")


class SingleFlight(Generic[T]):
    def __init__(self) -> None:
        self.calls: dict[str, asyncio.Task[T]] = {}

    async def do(self, key: str, call: Callable[[], Awaitable[T]]) -> T:
        running = self.calls.get(key)
        if running is None:
            # A task of its own, awaited through a shield: no caller hanging up (not even the first) can
            # cancel the answer the others are waiting for.
            running = self.calls[key] = asyncio.ensure_future(call())
            running.add_done_callback(lambda task: self._finished(key, task))
        return await asyncio.shield(running)

    def _finished(self, key: str, task: asyncio.Task[T]) -> None:
        self.calls.pop(key, None)
        if not task.cancelled():
            task.exception()  # seen here, so a failure whose callers all left is not logged as never retrieved

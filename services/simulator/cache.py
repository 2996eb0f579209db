"""Prompt caching by prefix, billed the way Anthropic bills it.

This is a test double: entries live in this process's memory only, so each simulator replica has its own
cache and a restart empties it. That is enough to make cache reads and writes show up in usage and cost.
"""

from __future__ import annotations

import hashlib
import time
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from services.simulator.tokens import Segment


@dataclass(frozen=True)
class Breakpoint:
    digest: str
    tokens: int


@dataclass(frozen=True)
class CachePlan:
    """How a request's input splits into cache reads, cache writes and plain input, before storing."""

    input_tokens: int
    cache_creation_input_tokens: int
    cache_read_input_tokens: int
    hit: str | None
    to_store: tuple[str, ...]


def breakpoints(model: str, segments: Sequence[Segment]) -> list[Breakpoint]:
    """Each marked segment closes a prefix; its digest chains every segment before it, so any edit misses."""
    chain = hashlib.sha256(model.encode())
    tokens = 0
    found = []
    for segment in segments:
        chain.update(segment.text.encode())
        tokens += segment.tokens
        if segment.breakpoint:
            found.append(Breakpoint(chain.copy().hexdigest(), tokens))
    return found


class PromptCache:
    """Cached prefixes with a sliding TTL (a hit refreshes it), bounded by evicting the least used."""

    def __init__(
        self,
        *,
        ttl_s: float,
        min_tokens: int,
        max_entries: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ttl_s = ttl_s
        self._min_tokens = min_tokens
        self._max_entries = max_entries
        self._clock = clock
        self._expiry: OrderedDict[str, float] = OrderedDict()

    def _alive(self, digest: str) -> bool:
        expiry = self._expiry.get(digest)
        return expiry is not None and expiry > self._clock()

    def plan(self, model: str, segments: Sequence[Segment]) -> CachePlan:
        total = sum(segment.tokens for segment in segments)
        eligible = [bp for bp in breakpoints(model, segments) if bp.tokens >= self._min_tokens]
        hit_at = next((i for i in range(len(eligible) - 1, -1, -1) if self._alive(eligible[i].digest)), -1)
        read = eligible[hit_at].tokens if hit_at >= 0 else 0
        to_store = eligible[hit_at + 1 :]
        created = to_store[-1].tokens - read if to_store else 0
        return CachePlan(
            input_tokens=total - read - created,
            cache_creation_input_tokens=created,
            cache_read_input_tokens=read,
            hit=eligible[hit_at].digest if hit_at >= 0 else None,
            to_store=tuple(bp.digest for bp in to_store),
        )

    def commit(self, plan: CachePlan) -> None:
        expiry = self._clock() + self._ttl_s
        for digest in (plan.hit, *plan.to_store):
            if digest is not None:
                self._expiry[digest] = expiry
                self._expiry.move_to_end(digest)
        while len(self._expiry) > self._max_entries:
            self._expiry.popitem(last=False)

    def clear(self) -> None:
        self._expiry.clear()

"""How much output a Claude call reserves, learned from what calls of the same kind really used.

Anthropic admits a call against its `max_tokens`, and so does the fleet budget; a call that reserves
8,000 tokens and uses 1,500 keeps the other 6,500 from everyone until it ends. So a call reserves a high
quantile of recent calls of its kind instead (kept in Redis, so every replica learns from all), between
a floor and a ceiling. Callers handle the rare answer that reaches its allowance (chat continues it, an
estimation is asked again with the ceiling), so a tight allowance costs an occasional extra request,
never a truncated result.

Until a kind has MIN_SAMPLES calls, a quantile means little, but waiting for them at the initial guess
(the estimation's whole 8,000 tokens) wasted most of a fresh fleet's first minutes: the chat benchmark
measured 60 % of all output reserved and unused there. So a call reserves the largest use seen so far
plus 1/n of it: after n calls, the chance the next one needs more than all of them is about 1/(n+1),
and the margin covers most of those too.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import redis.asyncio as aioredis

HISTORY = 200
MIN_SAMPLES = 20


def quantile(values: list[int], q: float) -> int:
    """The nearest-rank quantile: a value some call actually used, never an interpolation below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class OutputAllowance:
    def __init__(
        self,
        redis: aioredis.Redis,
        prefix: str,
        q: float,
        floor: int,
        ceiling: int,
        quantiles: Mapping[str, float] | None = None,
    ) -> None:
        """`q` for every kind but those `quantiles` names (a kind whose cut call costs more than a continuation)."""
        self.redis = redis
        self.prefix = prefix
        self.q = q
        self.floor = floor
        self.ceiling = ceiling
        self.quantiles = dict(quantiles or {})

    def _key(self, kind: str) -> str:
        return f"{self.prefix}:output:{kind}"

    async def tokens(self, kind: str, initial: int) -> int:
        """The kind's quantile once MIN_SAMPLES calls of it are measured; before that the largest seen plus a
        margin; `initial` for a kind never seen."""
        raw = await self.redis.lrange(self._key(kind), 0, HISTORY - 1)  # type: ignore[misc]
        used = [int(value) for value in raw]
        if len(used) >= MIN_SAMPLES:
            learned = quantile(used, self.quantiles.get(kind, self.q))
        elif used:
            learned = math.ceil(max(used) * (1 + 1 / len(used)))
        else:
            learned = initial
        return max(self.floor, min(self.ceiling, learned))

    async def learn(self, kind: str, output_tokens: int) -> None:
        """Records what a whole call (continuations included) produced, keeping the latest HISTORY."""
        key = self._key(kind)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(key, output_tokens)
            pipe.ltrim(key, 0, HISTORY - 1)
            await pipe.execute()

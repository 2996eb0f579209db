"""How much output a Claude call reserves, learned from what calls of the same kind really used.

Anthropic admits a call against its `max_tokens`, and so does the fleet budget; a call that reserves
8,000 tokens and uses 1,500 keeps the other 6,500 from everyone until it ends. So a call reserves a high
quantile of recent calls of its kind instead (kept in Redis, so every replica learns from all), between
a floor and a ceiling. Callers handle the rare answer that reaches its allowance (chat continues it, an
estimation is asked again with the ceiling), so a tight allowance costs an occasional extra request,
never a truncated result.
"""

from __future__ import annotations

import math

import redis.asyncio as aioredis

HISTORY = 200
MIN_SAMPLES = 20


def quantile(values: list[int], q: float) -> int:
    """The nearest-rank quantile: a value some call actually used, never an interpolation below it."""
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


class OutputAllowance:
    def __init__(self, redis: aioredis.Redis, prefix: str, q: float, floor: int, ceiling: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.q = q
        self.floor = floor
        self.ceiling = ceiling

    def _key(self, kind: str) -> str:
        return f"{self.prefix}:output:{kind}"

    async def tokens(self, kind: str, initial: int) -> int:
        """`initial` until MIN_SAMPLES calls of the kind are measured, then the learned quantile."""
        raw = await self.redis.lrange(self._key(kind), 0, HISTORY - 1)  # type: ignore[misc]
        used = [int(value) for value in raw]
        learned = quantile(used, self.q) if len(used) >= MIN_SAMPLES else initial
        return max(self.floor, min(self.ceiling, learned))

    async def learn(self, kind: str, output_tokens: int) -> None:
        """Records what a whole call (continuations included) produced, keeping the latest HISTORY."""
        key = self._key(kind)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(key, output_tokens)
            pipe.ltrim(key, 0, HISTORY - 1)
            await pipe.execute()

"""How much output a chat call reserves from the fleet budget, learned from what such calls really used.

Anthropic admits a call against `max_tokens`, and so does the fleet budget; reserving the estimation's
8,000 tokens for a 100-token answer made eleven turns fill a Tier 2 minute. The allowance is instead a
high quantile of recent calls of the same kind (kept in Redis, so every replica learns from all), with
a floor and a ceiling. A call that needs more is continued, not truncated (see `conversation.py`), so a
tight allowance costs a rare extra request, never a cut answer.

The kind of a turn is predicted from the message before anything is spent: a request to change the
estimate tends to make an edit call, a question a short answer. The prediction only picks which history
to learn from; a wrong guess is paid for by a continuation.
"""

from __future__ import annotations

import math
import re
from typing import Literal

import redis.asyncio as aioredis

TurnKind = Literal["answer", "revision"]
CallKind = Literal["first", "follow"]
HISTORY = 200
MIN_SAMPLES = 20
INITIAL: dict[tuple[TurnKind, CallKind], int] = {
    ("answer", "first"): 400,
    ("answer", "follow"): 300,
    ("revision", "first"): 1200,
    ("revision", "follow"): 300,
}
"""Until MIN_SAMPLES calls of a kind are measured: generous guesses, refined by the first few turns."""

_CHANGE = re.compile(
    r"\b(add|include|remove|drop|delete|cut|increase|reduce|decrease|raise|lower|change|revise|update|"
    r"replace|split|merge|move|extend|double|halve)\b",
    re.I,
)


def predict_kind(message: str) -> TurnKind:
    return "revision" if _CHANGE.search(message) else "answer"


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

    def _key(self, kind: TurnKind, call: CallKind) -> str:
        return f"{self.prefix}:output:{kind}:{call}"

    async def tokens(self, kind: TurnKind, call: CallKind) -> int:
        raw = await self.redis.lrange(self._key(kind, call), 0, HISTORY - 1)  # type: ignore[misc]
        used = [int(value) for value in raw]
        learned = quantile(used, self.q) if len(used) >= MIN_SAMPLES else INITIAL[(kind, call)]
        return max(self.floor, min(self.ceiling, learned))

    async def learn(self, kind: TurnKind, call: CallKind, output_tokens: int) -> None:
        """Records what a whole call (continuations included) produced, keeping the latest HISTORY."""
        key = self._key(kind, call)
        async with self.redis.pipeline(transaction=False) as pipe:
            pipe.lpush(key, output_tokens)
            pipe.ltrim(key, 0, HISTORY - 1)
            await pipe.execute()

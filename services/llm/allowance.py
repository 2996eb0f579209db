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

A kind never measured has only its guess, and a burst that arrives before any call has finished reserves
it for every call: the chat benchmark's first 50 estimations reserved the 4,000-token guess for about
1,500 used, 38 % of everything reserved in its phase left unused. So a caller may ask for a few probing
calls first (`probing`): the rest of the burst waits for what the probes used, about one call's time,
then reserves from it. No library rations calls by what has been measured, hence this one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import math
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager

import redis.asyncio as aioredis

log = logging.getLogger(__name__)
HISTORY = 200
MIN_SAMPLES = 20
PROBE_LEASE_S = 120.0
PROBE_POLL_S = 0.25

# KEYS: the kind's measured uses, its live probes (member -> lease end, ms on Redis's clock).
# ARGV: probes wanted, lease ms, this caller's member. Returns 1: measured enough, go; 2: go as a probe
# (the member is in the set); 0: wait. A probe that ended without a measure, or whose holder died and
# let its lease run out, leaves its place to the next caller.
_PROBE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local wanted = tonumber(ARGV[1])
local measured = redis.call('LLEN', KEYS[1])
if measured >= wanted then return 1 end
redis.call('ZREMRANGEBYSCORE', KEYS[2], '-inf', now)
if measured + redis.call('ZCARD', KEYS[2]) < wanted then
  redis.call('ZADD', KEYS[2], now + tonumber(ARGV[2]), ARGV[3])
  redis.call('PEXPIRE', KEYS[2], ARGV[2])
  return 2
end
return 0
"""


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
        self._probe = redis.register_script(_PROBE)

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
        """Records what a whole call (continuations included) produced, keeping the latest HISTORY.

        It runs after a paid call and before its answer is stored, so it never raises: a sample Redis did
        not take costs the allowance a little knowledge, where raising would cost the answer."""
        key = self._key(kind)
        try:
            async with self.redis.pipeline(transaction=False) as pipe:
                pipe.lpush(key, output_tokens)
                pipe.ltrim(key, 0, HISTORY - 1)
                await pipe.execute()
        except (OSError, aioredis.RedisError) as exc:
            log.warning("could not record what a %s call used: %s", kind, exc)

    @asynccontextmanager
    async def probing(
        self,
        kind: str,
        probes: int,
        wait_until: float,
        on_wait: Callable[[bool], Awaitable[None]] | None = None,
        lease_s: float = PROBE_LEASE_S,
    ) -> AsyncIterator[None]:
        """Until `probes` calls of `kind` are measured, lets at most that many run (each `learn`s inside the
        block); the others wait here for their measures, or until the monotonic `wait_until`, and then go.
        `on_wait` hears True when a caller starts waiting and False when it stops."""
        member = uuid.uuid4().hex
        keys = [self._key(kind), f"{self.prefix}:probes:{kind}"]
        probe = waited = False
        while probes > 0:
            state = await self._probe(keys=keys, args=[probes, int(lease_s * 1000), member])
            if state != 0 or time.monotonic() >= wait_until:
                probe = state == 2
                break
            if not waited and on_wait is not None:
                await on_wait(True)
            waited = True
            await asyncio.sleep(min(PROBE_POLL_S, max(0.0, wait_until - time.monotonic())))
        if waited and on_wait is not None:
            await on_wait(False)
        try:
            yield
        finally:
            # After a paid call too: a place Redis did not take back is freed by its lease.
            if probe:
                with contextlib.suppress(OSError, aioredis.RedisError):
                    await self.redis.zrem(keys[1], member)

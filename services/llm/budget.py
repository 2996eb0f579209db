"""The fleet-wide Claude budget: every worker and chat replica draws from the same buckets in Redis.

Per-pod limits multiply by the replica count and turn into 429 storms; here the fleet behaves as one
client of Anthropic. A call reserves before it starts (one request, its input tokens, and `max_tokens`
of output, which is what Anthropic itself checks at admission), and settles when it ends: unused
output comes back, and the input is charged as Anthropic charges it (cache reads are free). An
in-flight slot is a lease that the holder renews while its call runs, so a killed process frees its slot
within one lease TTL. Chat keeps a reserved share of every limit that estimations may not touch. A 429
or 529 seen by any replica pauses the whole fleet for its `retry-after`.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import math
import random
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any, Literal

import redis.asyncio as aioredis
from prometheus_client import Counter, Gauge, Histogram

from services.llm.budget_lua import COOL_DOWN, HEARTBEAT, LEAVE, RESERVE, SETTLE, SNAPSHOT
from services.llm.settings import BudgetSettings
from services.shared.contracts import Usage

log = logging.getLogger(__name__)

Priority = Literal["chat", "estimate"]


@dataclass(frozen=True)
class Waiting:
    """Why a call waits: the limit (or `queue` behind older calls), its place in line, and the expected wait."""

    reason: str
    position: int
    expected_s: float


@dataclass
class LinePlace:
    """Where a piece of work stands in the line for capacity, kept across its calls: a chat turn's follow-up
    (the reply after its edit, a continuation, a retry) waits from when the turn first arrived, instead
    of joining the back of the line again behind turns that arrived while its first call ran."""

    arrived_ms: int = 0


WaitListener = Callable[[Waiting | None], Awaitable[None]]
"""Told when a call starts waiting and whenever its reason or place changes, and `None` once admitted."""
CHARS_PER_TOKEN = 3.0
WARM_CACHE_TTL_S = 240
MIN_WAIT_S = 0.05
MAX_WAIT_S = 2.0

GRANTS = Counter("estimator_llm_budget_grants_total", "Claude calls admitted by the fleet budget", ["priority"])
WAITS = Histogram(
    "estimator_llm_budget_wait_seconds",
    "Time a Claude call waited for fleet capacity",
    ["priority"],
    buckets=(0, 0.1, 0.5, 1, 2, 5, 10, 20, 30, 60, 120, 300),
)
UPSTREAM_THROTTLES = Counter(
    "estimator_llm_upstream_throttled_total", "429/529 answers from the Claude API", ["status"]
)
TOKENS = Counter(
    "estimator_llm_tokens_total",
    "Tokens used by Claude calls, by kind: input (uncached), output, cache_write, cache_read",
    ["priority", "kind"],
)
OUTPUT_RESERVED = Counter(
    "estimator_llm_output_reserved_tokens_total",
    "Output tokens reserved by Claude calls whose use is known; reservation waste is "
    "1 - estimator_llm_tokens_total{kind=output} / this",
    ["priority"],
)
AVAILABLE = Gauge("estimator_llm_budget_available", "What the fleet may still spend now", ["limit"])
CAPACITY = Gauge("estimator_llm_budget_capacity", "The fleet's per-minute limits in force", ["limit"])
IN_FLIGHT = Gauge("estimator_llm_budget_in_flight", "Claude calls holding a live lease")
MAX_IN_FLIGHT = Gauge("estimator_llm_budget_max_in_flight", "Cap on Claude calls in flight")
COOLDOWN = Gauge("estimator_llm_budget_cooldown_seconds", "Time left in a fleet-wide pause after a 429/529")
LIMIT_NAMES = ("requests", "input_tokens", "output_tokens")
OVERRIDABLE = ("rpm", "input_tpm", "output_tpm", "max_in_flight", "chat_reserve")


class CapacityTimeout(Exception):
    """No capacity before the caller's deadline."""

    def __init__(self, reason: str) -> None:
        super().__init__(f"no Claude capacity before the deadline (waiting on {reason})")
        self.reason = reason


def estimate_input_tokens(*parts: Any) -> int:
    """A deliberately high count (3 characters a token): an over-reservation is refunded at settle time."""
    return math.ceil(len(json.dumps(parts, default=str)) / CHARS_PER_TOKEN)


@dataclass(frozen=True)
class BudgetSnapshot:
    """The fleet's budget now: limits in force (operator overrides applied) and what is left of them."""

    available: dict[str, float]
    capacity: dict[str, float]
    in_flight: int
    max_in_flight: int
    cooldown_s: float
    chat_reserve: float


@dataclass
class Lease:
    lease_id: str
    priority: Priority
    input_reserved: int
    output_reserved: int
    cache_kind: str | None = None
    input_used: int | None = None
    output_used: int | None = None
    cached_tokens: int = 0
    usage: Usage | None = None

    def record(self, usage: Usage) -> None:
        """What Anthropic counts against the limits: uncached input, cache writes, and output."""
        self.usage = usage
        self.input_used = usage.input_tokens + usage.cache_creation_input_tokens
        self.output_used = usage.output_tokens
        self.cached_tokens = usage.cache_creation_input_tokens + usage.cache_read_input_tokens

    def refused_upstream(self) -> None:
        """The API refused before generating anything: only the request itself was spent."""
        self.input_used = 0
        self.output_used = 0


class FleetBudget:
    def __init__(self, redis: aioredis.Redis, settings: BudgetSettings) -> None:
        """Every process given the same Redis and `llm_budget_prefix` shares one budget."""
        self.redis = redis
        self.settings = settings
        prefix = self.prefix = settings.llm_budget_prefix
        self.config_key = f"{prefix}:config"
        self._keys = [
            self.config_key,
            *(f"{prefix}:{name}" for name in ("state", "leases", "cooldown", "refunds", "line", "line_seen")),
        ]
        self._reserve = redis.register_script(RESERVE)
        self._settle = redis.register_script(SETTLE)
        self._heartbeat = redis.register_script(HEARTBEAT)
        self._cool_down = redis.register_script(COOL_DOWN)
        self._snapshot = redis.register_script(SNAPSHOT)
        self._leave = redis.register_script(LEAVE)

    def _limits(self) -> list[Any]:
        s = self.settings
        return [s.llm_rpm, s.llm_input_tpm, s.llm_output_tpm]

    async def _warm_tokens(self, kind: str) -> int:
        return int(await self.redis.get(f"{self.prefix}:warm:{kind}") or 0)

    async def acquire(
        self,
        priority: Priority,
        input_tokens: int,
        output_tokens: int,
        deadline: float,
        on_wait: WaitListener | None = None,
        cache_kind: str | None = None,
        place: LinePlace | None = None,
    ) -> Lease:
        """Waits in line (bounded by the monotonic `deadline`) until the fleet can afford the call, then reserves it.

        A caller that gives up (deadline, cancellation) leaves the line at once, so those behind it move up.
        A `place` already given an arrival waits from then; an empty one is given this call's.
        """
        if cache_kind:
            input_tokens = max(1, input_tokens - await self._warm_tokens(cache_kind))
        lease = Lease(uuid.uuid4().hex, priority, input_tokens, output_tokens, cache_kind)
        started = time.monotonic()
        told: Waiting | None = None
        try:
            while True:
                since = place.arrived_ms if place else 0
                granted, wait_ms, reason, position, expected_ms, arrived = await self._reserve(
                    keys=self._keys, args=[*self._reserve_args(lease), since]
                )
                if place is not None and not place.arrived_ms:
                    place.arrived_ms = int(arrived)
                if int(granted):
                    if told is not None and on_wait is not None:
                        await on_wait(None)
                    GRANTS.labels(priority).inc()
                    WAITS.labels(priority).observe(time.monotonic() - started)
                    return lease
                waiting = Waiting(str(reason), int(position), int(expected_ms) / 1000)
                if on_wait is not None and (told is None or (told.reason, told.position) != (reason, position)):
                    await on_wait(waiting)
                told = waiting
                # Waits are re-checked at least every MAX_WAIT_S: calls in flight settle sooner than the
                # refill-only estimate assumes.
                delay = min(MAX_WAIT_S, max(MIN_WAIT_S, int(wait_ms) / 1000) * random.uniform(1.0, 1.25))
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CapacityTimeout(str(reason))
                await asyncio.sleep(min(delay, remaining))
        except BaseException:
            await asyncio.shield(self._leave(keys=self._keys[5:7], args=[self._member(lease)]))
            raise

    def _reserve_args(self, lease: Lease) -> list[Any]:
        s = self.settings
        return [
            *self._limits(),
            s.llm_max_in_flight,
            s.llm_chat_reserve,
            lease.lease_id,
            lease.priority,
            lease.input_reserved,
            lease.output_reserved,
            int(s.llm_lease_ttl_s * 1000),
            int(s.llm_admission_margin_s * 1000),
            int(s.llm_line_stale_s * 1000),
            int(s.llm_estimate_starve_s * 1000),
            s.llm_chat_max_share,
        ]

    @staticmethod
    def _member(lease: Lease) -> str:
        return f"{'c' if lease.priority == 'chat' else 'e'}|{lease.lease_id}"

    async def settle(self, lease: Lease) -> None:
        """Returns what the call did not use; an unknown outcome (a broken stream) keeps the reservation."""
        input_refund = 0 if lease.input_used is None else lease.input_reserved - lease.input_used
        output_refund = 0 if lease.output_used is None else lease.output_reserved - lease.output_used
        await self._settle(
            keys=self._keys,
            args=[
                *self._limits(),
                lease.lease_id,
                input_refund,
                output_refund,
                int(self.settings.llm_refund_delay_s * 1000),
            ],
        )
        if lease.output_used is not None:
            OUTPUT_RESERVED.labels(lease.priority).inc(lease.output_reserved)
        if lease.usage is not None:
            # By kind, as Anthropic bills them; the methodology's cache hit ratio is cache_read / (read + write).
            TOKENS.labels(lease.priority, "input").inc(lease.usage.input_tokens)
            TOKENS.labels(lease.priority, "output").inc(lease.usage.output_tokens)
            TOKENS.labels(lease.priority, "cache_write").inc(lease.usage.cache_creation_input_tokens)
            TOKENS.labels(lease.priority, "cache_read").inc(lease.usage.cache_read_input_tokens)
        if lease.cache_kind and lease.cached_tokens:
            # The next call with the same stable prefix will read it from the cache: reserve less input.
            await self.redis.set(f"{self.prefix}:warm:{lease.cache_kind}", lease.cached_tokens, ex=WARM_CACHE_TTL_S)

    async def cool_down(self, seconds: float, status: int) -> None:
        UPSTREAM_THROTTLES.labels(str(status)).inc()
        await self._cool_down(keys=self._keys[3:4], args=[max(1, int(seconds * 1000))])
        log.warning("Claude answered %s: the whole fleet pauses for %.1fs", status, seconds)

    async def snapshot(self) -> BudgetSnapshot:
        s = self.settings
        raw = await self._snapshot(keys=self._keys, args=[*self._limits(), s.llm_max_in_flight, s.llm_chat_reserve])
        values = [float(v) for v in raw]
        return BudgetSnapshot(
            available=dict(zip(LIMIT_NAMES, values[0:3], strict=True)),
            capacity=dict(zip(LIMIT_NAMES, values[3:6], strict=True)),
            in_flight=int(values[6]),
            max_in_flight=int(values[7]),
            cooldown_s=values[8] / 1000,
            chat_reserve=values[9],
        )

    async def override(self, limits: dict[str, float]) -> None:
        """Sets limits for the whole fleet at once (what the operator does); unknown names are refused."""
        unknown = set(limits) - set(OVERRIDABLE)
        if unknown:
            raise ValueError(f"not a budget setting: {', '.join(sorted(unknown))}")
        for name, value in limits.items():
            if not (0 <= value < 1 if name == "chat_reserve" else value >= 1):
                raise ValueError(f"{name}={value} is out of range")
        if limits:
            await self.redis.hset(self.config_key, mapping=limits)  # type: ignore[misc]

    async def clear_overrides(self) -> None:
        """Back to every process's configured defaults (LLM_*)."""
        await self.redis.delete(self.config_key)

    async def export_gauges(self) -> None:
        """Copies the shared budget into this process's gauges, so any replica's /metrics shows the fleet."""
        snap = await self.snapshot()
        for name in LIMIT_NAMES:
            AVAILABLE.labels(name).set(snap.available[name])
            CAPACITY.labels(name).set(snap.capacity[name])
        IN_FLIGHT.set(snap.in_flight)
        MAX_IN_FLIGHT.set(snap.max_in_flight)
        COOLDOWN.set(snap.cooldown_s)

    async def export_gauges_forever(self, interval_s: float = 5.0) -> None:
        while True:
            try:
                await self.export_gauges()
            except (OSError, aioredis.RedisError) as exc:
                log.warning("could not read the fleet budget for metrics: %s", exc)
            await asyncio.sleep(interval_s)

    async def _keep_alive(self, lease: Lease) -> None:
        ttl_ms = int(self.settings.llm_lease_ttl_s * 1000)
        while True:
            await asyncio.sleep(self.settings.llm_lease_ttl_s / 3)
            await self._heartbeat(keys=self._keys[2:3], args=[lease.lease_id, ttl_ms])

    @contextlib.asynccontextmanager
    async def slot(
        self,
        priority: Priority,
        input_tokens: int,
        output_tokens: int,
        deadline: float,
        on_wait: WaitListener | None = None,
        cache_kind: str | None = None,
        place: LinePlace | None = None,
    ) -> AsyncIterator[Lease]:
        """Holds an in-flight slot (renewed while the call runs) and settles it however the call ends."""
        lease = await self.acquire(priority, input_tokens, output_tokens, deadline, on_wait, cache_kind, place)
        keeper = asyncio.create_task(self._keep_alive(lease))
        try:
            yield lease
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await asyncio.shield(self.settle(lease))

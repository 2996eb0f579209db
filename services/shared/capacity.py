"""The capacity model: from the organisation's Claude limits and a traffic mix, what the fleet can do.

One implementation for `estimator capacity`, the operator and the capacity benchmark. Claude's rate
limits, not pods, bound how many estimations run at once: a running estimation spends its output
tokens over its duration, so the output budget left after the chat reserve, divided by one
estimation's rate of spend, is the concurrency the budget can feed (and likewise for input tokens and
requests; the tightest wins). Workers are then sized so that replicas x `max_jobs` never exceeds it.

The queue is c servers (the fed concurrency) with Poisson arrivals. Estimation times are far from
exponential (their spread is about a third of their mean), so M/M/c overstates waits; the predicted
waits come from a small discrete-event simulation with lognormal service times of the given spread,
and M/M/c's Erlang C figure is reported beside it for reference.
"""

from __future__ import annotations

import heapq
import math
import random
import re
import statistics
from collections.abc import Sequence
from dataclasses import dataclass, field

SIMULATED_JOBS = 20_000
WARMUP_JOBS = 2_000
DEFAULT_MAX_JOBS = 10


@dataclass(frozen=True)
class Limits:
    rpm: int
    input_tpm: int
    output_tpm: int


# Anthropic's published rate limits for Claude Sonnet, by usage tier (requests, input and output tokens
# per minute); the plan's table takes its output column from these.
TIERS: dict[str, Limits] = {
    "1": Limits(rpm=50, input_tpm=30_000, output_tpm=8_000),
    "2": Limits(rpm=1_000, input_tpm=450_000, output_tpm=90_000),
    "3": Limits(rpm=2_000, input_tpm=800_000, output_tpm=160_000),
    "4": Limits(rpm=4_000, input_tpm=2_000_000, output_tpm=400_000),
}


def tier_name(tier: str) -> str:
    """Tier names are loose: `Tier 2`, `tier-2` and `2` all name tier 2."""
    return re.sub(r"^tier[\s_-]*", "", tier.strip().lower())


def limits_for(
    tier: str | None, rpm: int | None = None, input_tpm: int | None = None, output_tpm: int | None = None
) -> Limits:
    """A tier ("2", "tier-2", "Tier 2"), or explicit limits; explicit values override the tier's."""
    base: Limits | None = None
    if tier is not None:
        name = tier_name(tier)
        if name not in TIERS:
            raise ValueError(f"unknown tier {tier!r}: one of {', '.join(TIERS)}")
        base = TIERS[name]
    elif None in (rpm, input_tpm, output_tpm):
        raise ValueError("give a tier, or all three limits (rpm, input and output tokens per minute)")
    values = {
        "rpm": rpm if rpm is not None else base.rpm if base else 0,
        "input_tpm": input_tpm if input_tpm is not None else base.input_tpm if base else 0,
        "output_tpm": output_tpm if output_tpm is not None else base.output_tpm if base else 0,
    }
    for name, value in values.items():
        if value < 1:
            raise ValueError(f"{name} must be at least 1, not {value}")
    return Limits(**values)


@dataclass(frozen=True)
class Mix:
    """Traffic and per-call usage. The defaults are the plan's 1000 users and this stack's measured usage.

    `think_time_s` is the time between two actions of one active user; `estimate_share` and `chat_share`
    are the shares of those actions that submit an estimation or send a chat turn.
    """

    users: int = 1000
    think_time_s: float = 600.0
    estimate_share: float = 0.05
    chat_share: float = 0.15
    estimate_output_tokens: int = 6_000
    estimate_input_tokens: int = 4_000
    chat_output_tokens: int = 150
    chat_input_tokens: int = 1_500
    tokens_per_second: float = 60.0
    first_token_s: float = 1.0
    estimate_time_cv: float = 0.3
    worker_poll_s: float = 0.5

    @property
    def estimate_duration_s(self) -> float:
        return self.first_token_s + self.estimate_output_tokens / self.tokens_per_second

    @property
    def chat_duration_s(self) -> float:
        return self.first_token_s + self.chat_output_tokens / self.tokens_per_second

    @property
    def estimate_arrivals_per_s(self) -> float:
        return self.users * self.estimate_share / self.think_time_s


@dataclass(frozen=True)
class QueueForecast:
    arrivals_per_min: float
    servers: int
    utilisation: float
    wait_p50_s: float
    wait_p95_s: float
    wait_p95_mmc_s: float

    @property
    def stable(self) -> bool:
        return self.utilisation < 1


@dataclass(frozen=True)
class Plan:
    limits: Limits
    chat_reserve: float
    estimation_concurrency: int
    chat_concurrency: int
    worker_max_jobs: int
    worker_max_replicas: int
    max_in_flight: int
    queue: QueueForecast
    reasons: tuple[str, ...] = field(default=())


def _concurrency(budget: Limits, share: float, input_tokens: int, output_tokens: int, duration_s: float) -> float:
    """Calls of this kind the budget's `share` keeps running at once (each spends its tokens over `duration_s`)."""
    per_call_minutes = duration_s / 60
    return min(
        budget.rpm * share * per_call_minutes,
        budget.input_tpm * share * per_call_minutes / max(1, input_tokens),
        budget.output_tpm * share * per_call_minutes / max(1, output_tokens),
    )


def workers_for(concurrency: int, max_jobs: int | None = None) -> tuple[int, int]:
    """(max_jobs, replicas) with replicas x max_jobs ≤ concurrency, as close to it as whole workers allow."""
    if concurrency < 1:
        return 1, 0
    if max_jobs is not None:
        jobs = max(1, min(max_jobs, concurrency))
        return jobs, concurrency // jobs
    replicas = math.ceil(concurrency / DEFAULT_MAX_JOBS)
    return concurrency // replicas, replicas


def erlang_c_p95(arrivals_per_s: float, servers: int, service_s: float) -> float:
    """M/M/c's 95th percentile of the wait in queue (0 when fewer than 5 % of jobs wait)."""
    if servers < 1:
        return math.inf
    offered = arrivals_per_s * service_s
    if offered >= servers:
        return math.inf
    terms = sum(offered**k / math.factorial(k) for k in range(servers))
    last = offered**servers / math.factorial(servers) * servers / (servers - offered)
    waits = last / (terms + last)
    if waits <= 0.05:
        return 0.0
    return math.log(waits / 0.05) / (servers / service_s - arrivals_per_s)


def simulate_waits(
    arrivals_per_s: float,
    servers: int,
    service_s: float,
    cv: float,
    *,
    pickup_s: float = 0.0,
    jobs: int = SIMULATED_JOBS,
    seed: int = 7,
) -> list[float]:
    """Queue waits of a FIFO queue with `servers` slots, Poisson arrivals and lognormal service times.

    A free slot takes the next job up to `pickup_s` late (a worker polls its queue; ARQ's default is 0.5 s).
    """
    rng = random.Random(seed)
    clock, arrivals = 0.0, []
    for _ in range(jobs + WARMUP_JOBS):
        clock += rng.expovariate(arrivals_per_s)
        arrivals.append(clock)
    return replay(arrivals, servers, service_s, cv, pickup_s=pickup_s, rng=rng)[WARMUP_JOBS:]


def replay(
    arrivals: Sequence[float], servers: int, service_s: float, cv: float, *, pickup_s: float, rng: random.Random
) -> list[float]:
    """The waits of jobs arriving at `arrivals` (seconds, ascending), service times drawn from `rng`."""
    sigma = math.sqrt(math.log(1 + cv * cv))
    mu = math.log(service_s) - sigma * sigma / 2
    free_at = [0.0] * servers
    waits = []
    for arrival in arrivals:
        start = max(arrival, heapq.heappop(free_at)) + rng.uniform(0, pickup_s)
        service = rng.lognormvariate(mu, sigma) if cv > 0 else service_s
        heapq.heappush(free_at, start + service)
        waits.append(start - arrival)
    return waits


def forecast(arrivals_per_s: float, servers: int, service_s: float, cv: float, pickup_s: float = 0.0) -> QueueForecast:
    utilisation = arrivals_per_s * service_s / servers if servers else math.inf
    if utilisation >= 1 or arrivals_per_s <= 0:
        wait = math.inf if utilisation >= 1 else 0.0
        return QueueForecast(arrivals_per_s * 60, servers, utilisation, wait, wait, wait)
    waits = sorted(simulate_waits(arrivals_per_s, servers, service_s, cv, pickup_s=pickup_s))
    return QueueForecast(
        arrivals_per_min=arrivals_per_s * 60,
        servers=servers,
        utilisation=utilisation,
        wait_p50_s=statistics.median(waits),
        wait_p95_s=waits[int(0.95 * (len(waits) - 1))],
        wait_p95_mmc_s=erlang_c_p95(arrivals_per_s, servers, service_s),
    )


def plan(limits: Limits, *, chat_reserve: float = 0.2, mix: Mix | None = None, max_jobs: int | None = None) -> Plan:
    if not 0 <= chat_reserve < 1:
        raise ValueError(f"chat_reserve must be in [0, 1), not {chat_reserve}")
    mix = mix or Mix()
    fed = _concurrency(
        limits, 1 - chat_reserve, mix.estimate_input_tokens, mix.estimate_output_tokens, mix.estimate_duration_s
    )
    chat = _concurrency(limits, chat_reserve, mix.chat_input_tokens, mix.chat_output_tokens, mix.chat_duration_s)
    concurrency = math.floor(fed + 1e-9)  # 20.0 computed as 19.999… is still 20
    jobs, replicas = workers_for(concurrency, max_jobs)
    servers = jobs * replicas
    reasons = [
        f"{(1 - chat_reserve):.0%} of {limits.output_tpm:,} output tokens a minute feeds {fed:.1f} estimations of "
        f"{mix.estimate_output_tokens:,} tokens over {mix.estimate_duration_s:.0f} s at once",
        f"{replicas} worker(s) x max_jobs {jobs} = {servers} ≤ {concurrency}",
        f"chat reserve {chat_reserve:.0%} keeps {math.floor(chat)} turns of {mix.chat_output_tokens} tokens running",
    ]
    if concurrency < 1:
        reasons.append("the budget cannot feed one estimation: raise the tier or lower the chat reserve")
    return Plan(
        limits=limits,
        chat_reserve=chat_reserve,
        estimation_concurrency=concurrency,
        chat_concurrency=math.floor(chat + 1e-9),
        worker_max_jobs=jobs,
        worker_max_replicas=replicas,
        max_in_flight=max(1, servers + math.floor(chat + 1e-9)),
        queue=forecast(
            mix.estimate_arrivals_per_s, servers, mix.estimate_duration_s, mix.estimate_time_cv, mix.worker_poll_s
        ),
        reasons=tuple(reasons),
    )

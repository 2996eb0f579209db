"""What the services and the simulator counted, read at the edges of each measured window.

The fleet budget's counters live in every process that calls Claude (the chat service and each worker),
so each is scraped and the samples summed; the simulator's `/_sim/stats` is what "Anthropic" saw.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass, field

import httpx
from prometheus_client.parser import text_string_to_metric_families

Key = tuple[str, tuple[tuple[str, str], ...]]
Counters = dict[Key, float]

TOKENS = "estimator_llm_tokens_total"
RESERVED = "estimator_llm_output_reserved_tokens_total"
THROTTLED = "estimator_llm_upstream_throttled_total"
WAIT_COUNT = "estimator_llm_budget_wait_seconds_count"
WAIT_SUM = "estimator_llm_budget_wait_seconds_sum"
CONTINUATIONS = "estimator_chat_continuations_total"
CHAT_TURNS = "estimator_chat_turns_total"
WORKER_JOBS = "estimator_worker_jobs_total"
WANTED = (TOKENS, RESERVED, THROTTLED, WAIT_COUNT, WAIT_SUM, CONTINUATIONS, CHAT_TURNS, WORKER_JOBS)


async def scrape(client: httpx.AsyncClient, urls: list[str]) -> Counters:
    """The wanted counters of every process, summed label set by label set."""
    texts = await asyncio.gather(*(client.get(f"{url}/metrics") for url in urls))
    counters: Counters = {}
    for response in texts:
        for family in text_string_to_metric_families(response.text):
            for sample in family.samples:
                if sample.name in WANTED:
                    key = (sample.name, tuple(sorted(sample.labels.items())))
                    counters[key] = counters.get(key, 0.0) + sample.value
    return counters


def total(counters: Counters, name: str, **labels: str) -> float:
    """The sum of every sample of `name` whose labels include `labels`."""
    return sum(
        value
        for (sample, sample_labels), value in counters.items()
        if sample == name and all(dict(sample_labels).get(k) == v for k, v in labels.items())
    )


def by_label(counters: Counters, name: str, label: str) -> dict[str, float]:
    out: dict[str, float] = {}
    for (sample, sample_labels), value in counters.items():
        if sample == name:
            key = dict(sample_labels).get(label, "")
            out[key] = out.get(key, 0.0) + value
    return out


def minus(after: Counters, before: Counters) -> Counters:
    return {key: value - before.get(key, 0.0) for key, value in after.items()}


@dataclass
class Snapshot:
    at: float
    counters: Counters
    sim: dict[str, int]


@dataclass
class Window:
    """Counters and simulator stats over a phase's steady window, and the simulator sampled through the phase."""

    start: Snapshot | None = None
    end: Snapshot | None = None
    samples: list[tuple[float, dict[str, int]]] = field(default_factory=list)

    @property
    def seconds(self) -> float:
        return self.end.at - self.start.at if self.start and self.end else 0.0

    @property
    def counters(self) -> Counters:
        return minus(self.end.counters, self.start.counters) if self.start and self.end else {}

    def sim(self, name: str) -> int:
        return self.end.sim.get(name, 0) - self.start.sim.get(name, 0) if self.start and self.end else 0


async def snapshot(client: httpx.AsyncClient, metric_urls: list[str], sim_url: str, started: float) -> Snapshot:
    counters, sim = await asyncio.gather(scrape(client, metric_urls), client.get(f"{sim_url}/_sim/stats"))
    return Snapshot(time.monotonic() - started, counters, sim.json())


async def sample_simulator(client: httpx.AsyncClient, sim_url: str, started: float, window: Window) -> None:
    """The simulator's counters every two seconds, for the chart of output tokens per minute."""
    while True:
        try:
            stats = (await client.get(f"{sim_url}/_sim/stats")).json()
            window.samples.append((time.monotonic() - started, stats))
        except httpx.HTTPError:
            pass
        await asyncio.sleep(2.0)

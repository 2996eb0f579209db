"""What the simulator served, so a load test can tell how often it was throttled and how much it "spent".

Requests in flight and their peak since the last reset let a test prove how many calls its clients
really made at once (a worker's concurrency cap, say), which no counter of finished requests can show.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, fields

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

_DESCRIPTIONS = {
    "requests": "Messages requests received",
    "rate_limited": "429 responses served (rate limits and injected 429 faults)",
    "overloaded": "529 overloaded responses served, including errors sent mid-stream",
    "server_errors": "500 responses served",
    "input_tokens": "Uncached input tokens billed",
    "cache_creation_input_tokens": "Input tokens written to the prompt cache",
    "cache_read_input_tokens": "Input tokens read from the prompt cache",
    "output_tokens": "Output tokens produced",
    "in_flight": "Messages requests taken in and not yet answered to the end",
    "peak_in_flight": "Most Messages requests in flight at once since the last reset",
}
_GAUGES = ("in_flight", "peak_in_flight")


@dataclass
class SimStats:
    requests: int = 0
    rate_limited: int = 0
    overloaded: int = 0
    server_errors: int = 0
    input_tokens: int = 0
    cache_creation_input_tokens: int = 0
    cache_read_input_tokens: int = 0
    output_tokens: int = 0
    in_flight: int = 0
    peak_in_flight: int = 0

    def request_started(self) -> None:
        self.requests += 1
        self.in_flight += 1
        self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def request_ended(self) -> None:
        self.in_flight -= 1

    def reset(self) -> None:
        """Requests still being answered stay in flight (they will end later), so the peak restarts from them."""
        for field in fields(self):
            if field.name != "in_flight":
                setattr(self, field.name, 0)
        self.peak_in_flight = self.in_flight

    def as_dict(self) -> dict[str, int]:
        return asdict(self)


class StatsCollector(Collector):
    """Reads the live counters at scrape time; a reset shows up to Prometheus as an ordinary counter reset."""

    def __init__(self, stats: SimStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        for name, value in self._stats.as_dict().items():
            family = GaugeMetricFamily if name in _GAUGES else CounterMetricFamily
            yield family(f"claude_sim_{name}", _DESCRIPTIONS[name], value=value)

"""What the gateway itself measured, from its Prometheus /metrics, next to what k6 measured.

k6's latencies include every wait before the gateway's handler runs (the accept queue, a busy event
loop, k6's own CPU); the gateway's histogram does not. When the two disagree, the time was spent
before or around the handler, not in it; the gateway's event-loop lag says how much of it was its own
loop being late. A gateway of several processes is read as one: their histograms are added up.
"""

from __future__ import annotations

from collections.abc import Sequence

import httpx
from prometheus_client.parser import text_string_to_metric_families

LATENCY = "estimator_http_request_duration_seconds_bucket"
LOOP_LAG = "estimator_event_loop_lag_seconds_bucket"
GC_PAUSES = "estimator_gc_pause_seconds_bucket"
SERVED = "estimator_http_requests_total"
TEMPLATES = {
    "status": ("GET", "/api/estimate/{job_id}/status"),
    "saves_list": ("GET", "/api/saves"),
    "save_detail": ("GET", "/api/saves/{save_id}"),
    "chat_history": ("GET", "/api/estimate/{job_id}/chat"),
    "chat": ("POST", "/api/estimate/{job_id}/chat"),
    "estimate": ("POST", "/api/estimate"),
}
READS = ("status", "saves_list", "save_detail", "chat_history")

Buckets = dict[str, dict[float, float]]


async def scrape(urls: Sequence[str]) -> tuple[Buckets, int]:
    """Cumulative latency buckets per benchmark route (and of the gateway's event-loop lag and full garbage
    collections, as "event loop lag" and "full collections"), and every request the gateway has counted, over
    the processes whose metrics are at `urls`."""
    async with httpx.AsyncClient(timeout=10) as client:
        texts = [(await client.get(f"{url}/metrics")).text for url in urls]
    by_template = {template: route for route, template in TEMPLATES.items()}
    buckets: Buckets = {route: {} for route in (*TEMPLATES, "event loop lag", "full collections")}
    served = 0.0
    for family in (family for text in texts for family in text_string_to_metric_families(text)):
        for sample in family.samples:
            if sample.name == SERVED:
                served += sample.value
            route = by_template.get((sample.labels.get("method", ""), sample.labels.get("route", "")))
            if sample.name == LATENCY and route is not None:
                into = buckets[route]
            elif sample.name == LOOP_LAG:
                into = buckets["event loop lag"]
            elif sample.name == GC_PAUSES and sample.labels.get("generation") == "2":
                into = buckets["full collections"]
            else:
                continue
            bound = float(sample.labels["le"])
            into[bound] = into.get(bound, 0.0) + sample.value
    buckets["all reads"] = {}
    for route in READS:
        for bound, count in buckets[route].items():
            buckets["all reads"][bound] = buckets["all reads"].get(bound, 0.0) + count
    return buckets, int(served)


def p99_between(before: dict[float, float], after: dict[float, float]) -> str:
    """The histogram bucket holding the 99th percentile of the requests served between two scrapes."""
    served = {bound: count - before.get(bound, 0.0) for bound, count in after.items()}
    total = served.get(float("inf"), 0.0)
    if total <= 0:
        return "n/a"
    for bound in sorted(served):
        if served[bound] >= 0.99 * total:
            return f"≤ {bound * 1000:g}" if bound != float("inf") else "> 30000"
    return "n/a"


def count_between(before: dict[float, float], after: dict[float, float]) -> int:
    """How many observations a histogram gained between two scrapes."""
    return int(after.get(float("inf"), 0.0) - before.get(float("inf"), 0.0))

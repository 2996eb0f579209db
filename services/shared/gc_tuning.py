"""Keeps the garbage collector from stalling a busy service, and measures when it still does.

A service starts with some 200,000 long-lived objects (modules, routes, pydantic schemas). Each full
collection walked all of them: 137 ms in the gateway, measured, during which every request in flight
waited; under the 1000-user mix those pauses were the reads' p99. Freezing what start-up created
moves it out of the collector's sight for good, so collections only look at what requests allocate.

What requests allocate can still make a long collection: under the same mix a probe timed the gateway's
full collections after the freeze at 70 to 150 ms, two a minute. prometheus-client's own GC collector
counts collections but not how long they stop the process, so `time_collections` exports that.
"""

from __future__ import annotations

import gc
import time
from typing import Any

from prometheus_client import Histogram

GC_PAUSES = Histogram(
    "estimator_gc_pause_seconds",
    "Garbage collections and how long each stopped the process, by generation",
    ["generation"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1),
)
_BY_GENERATION = tuple(GC_PAUSES.labels(str(generation)) for generation in range(3))
_started = 0.0


def _on_collection(phase: str, info: dict[str, Any]) -> None:
    global _started
    if phase == "start":
        _started = time.perf_counter()
    else:
        _BY_GENERATION[info["generation"]].observe(time.perf_counter() - _started)


def time_collections() -> None:
    """Times every collection from now on (once per process, however often it is called)."""
    if _on_collection not in gc.callbacks:
        gc.callbacks.append(_on_collection)


def freeze_startup_objects() -> None:
    """Call once start-up is over (end of the lifespan's setup)."""
    gc.collect()
    gc.freeze()

"""What a service created at start-up is out of the collector's sight, so collections stay short, and how
long the collections that remain stop the process is exported."""

from __future__ import annotations

import gc

from prometheus_client import REGISTRY

from services.shared.gc_tuning import freeze_startup_objects, time_collections


def test_startup_objects_are_frozen() -> None:
    before = gc.get_freeze_count()
    kept: list[list[int]] = [[] for _ in range(1000)]  # containers: the collector tracks, and so freezes, only those
    freeze_startup_objects()
    try:
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()


def _collections(generation: str) -> tuple[float, float]:
    labels = {"generation": generation}
    count = REGISTRY.get_sample_value("estimator_gc_pause_seconds_count", labels) or 0.0
    return count, REGISTRY.get_sample_value("estimator_gc_pause_seconds_sum", labels) or 0.0


def test_every_collection_is_timed_by_generation_once_timing_is_on() -> None:
    time_collections()
    time_collections()  # a second call must not time each collection twice
    gc.disable()  # only the two collections below
    try:
        before_full, before_young = _collections("2"), _collections("1")
        kept = [[n] for n in range(200_000)]  # a full collection walks these
        gc.collect()
        gc.collect(1)
        after_full, after_young = _collections("2"), _collections("1")
    finally:
        gc.enable()
    assert after_full[0] - before_full[0] == 1 and after_young[0] - before_young[0] == 1
    assert after_full[1] - before_full[1] > 0.001, "a collection over 200,000 lists takes a measurable time"
    assert len(kept) == 200_000

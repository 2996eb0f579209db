"""What a service created at start-up is out of the collector's sight, so collections stay short."""

from __future__ import annotations

import gc

from services.shared.gc_tuning import freeze_startup_objects


def test_startup_objects_are_frozen() -> None:
    before = gc.get_freeze_count()
    kept = [object() for _ in range(1000)]
    freeze_startup_objects()
    try:
        assert gc.get_freeze_count() >= before + len(kept)
    finally:
        gc.unfreeze()

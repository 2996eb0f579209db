"""The event-loop lag a service exports: a stall of the loop shows up as lag, an idle loop as almost none."""

from __future__ import annotations

import asyncio
import time

from prometheus_client import REGISTRY

from services.shared.loop_lag import measure_loop_lag

NAME = "estimator_event_loop_lag_seconds"


def _observed(le: str | None = None) -> float:
    if le is None:
        return REGISTRY.get_sample_value(f"{NAME}_count") or 0.0
    return REGISTRY.get_sample_value(f"{NAME}_bucket", {"le": le}) or 0.0


async def _observations(count: float) -> None:
    """Until the histogram holds `count` observations (the metric has no event to wait on), at most 10 s."""
    for _ in range(1000):
        if _observed() >= count:
            return
        await asyncio.sleep(0.01)
    raise AssertionError(f"the lag task observed {_observed()} times, never {count}")


def test_a_stalled_loop_is_recorded_as_lag_and_an_idle_one_is_not() -> None:
    """A loop of its own, stopped for 400 ms between two runs: what a CPU-bound step or a long collection
    does to a service's loop, without blocking any other test's."""
    before_all, before_quick, before_long = _observed(), _observed("0.1"), _observed("0.25")
    loop = asyncio.new_event_loop()
    try:
        task = loop.create_task(measure_loop_lag(interval_s=0.05))
        loop.run_until_complete(_observations(before_all + 3))
        idle_all, idle_quick = _observed() - before_all, _observed("0.1") - before_quick
        time.sleep(0.4)  # the loop is not running: its task's wake-up comes due meanwhile
        loop.run_until_complete(_observations(before_all + idle_all + 1))
        task.cancel()
        loop.run_until_complete(asyncio.gather(task, return_exceptions=True))
    finally:
        loop.close()

    assert idle_all >= 3 and idle_quick == idle_all, "an idle loop wakes its task on time"
    stalled = (_observed() - before_all) - (_observed("0.1") - before_quick)
    assert stalled == 1, "the stall is one wake-up over 100 ms late"
    assert _observed("0.25") - before_long == _observed() - before_all - 1, "and over 250 ms: the 400 ms stall"

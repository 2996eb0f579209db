"""How late a service's event loop runs what is due: the wait that every request in the process shares.

The request histogram (`estimator_http_request_duration_seconds`) starts timing when the middleware
runs, so it cannot show the time a request spent waiting for the loop before that: a long garbage
collection, a CPU-bound step, a CPU the node did not give. A task that asks to be woken every
INTERVAL_S and records how late it woke measures that wait directly; under the read benchmark it tells
a starved process from slow code. prometheus-client's process collector reports CPU seconds, not
lateness, and no maintained library exports this for asyncio, hence this module.
"""

from __future__ import annotations

import asyncio

from prometheus_client import Histogram

INTERVAL_S = 0.25
LOOP_LAG = Histogram(
    "estimator_event_loop_lag_seconds",
    f"How late the event loop woke a task due every {INTERVAL_S} s",
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
)


async def measure_loop_lag(interval_s: float = INTERVAL_S) -> None:
    """Runs until cancelled."""
    loop = asyncio.get_running_loop()
    while True:
        due = loop.time() + interval_s
        await asyncio.sleep(interval_s)
        LOOP_LAG.observe(max(0.0, loop.time() - due))

"""The estimation queue as Prometheus gauges: what the worker HPA scales on (through prometheus-adapter).

The queue is ARQ's sorted set in Redis, scored by when each job may run; a job stays in it while it
runs and is marked by ARQ's `arq:in-progress:{id}` key. So "queued" is every member without that key,
"running" every member with it, and the oldest queued job is the first unmarked member. The values are
read at scrape time, not on a timer, so a scrape never sees a stale count and an unscraped worker does
no work. They are fleet-wide: every worker replica exports the same value, and queries take `max()`
over replicas, never `sum()` (see `k8s/prometheus-adapter/values.yaml`).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

import redis.asyncio as aioredis
from arq.constants import in_progress_key_prefix
from prometheus_client import Gauge
from redis.exceptions import RedisError

log = logging.getLogger(__name__)

QUEUE_JOBS = Gauge("estimator_queue_jobs", "Estimation jobs in the queue, fleet-wide (read with max())", ["state"])
OLDEST_QUEUED_AGE = Gauge(
    "estimator_queue_oldest_job_age_seconds",
    "How long the oldest queued job has been due, fleet-wide; 0 when none waits (read with max())",
)

# One pass over the queue in one round trip, consistent with itself. A job deferred into the future
# (a retry's backoff) counts as queued but not as waiting yet.
_READ = """
local members = redis.call('ZRANGE', KEYS[1], 0, -1, 'WITHSCORES')
local queued, running, oldest = 0, 0, ''
for i = 1, #members, 2 do
  if redis.call('EXISTS', ARGV[1] .. members[i]) == 1 then
    running = running + 1
  else
    queued = queued + 1
    if oldest == '' then oldest = members[i + 1] end
  end
end
return {queued, running, oldest}
"""


@dataclass(frozen=True)
class QueueDepth:
    queued: int
    running: int
    oldest_queued_age_s: float


class QueueGauges:
    def __init__(self, redis: aioredis.Redis, queue_name: str) -> None:
        self.queue_name = queue_name
        self._read = redis.register_script(_READ)

    async def read(self) -> QueueDepth:
        queued, running, oldest = await self._read(keys=[self.queue_name], args=[in_progress_key_prefix])
        age = 0.0
        if oldest:
            age = max(0.0, time.time() - float(oldest) / 1000)
        return QueueDepth(int(queued), int(running), age)

    async def export(self) -> None:
        """Sets the gauges, or drops them while Redis cannot be read: no value beats a stale one for an HPA."""
        try:
            depth = await self.read()
        except (OSError, RedisError):
            log.warning("could not read the estimation queue for /metrics", exc_info=True)
            QUEUE_JOBS.clear()
            OLDEST_QUEUED_AGE.set(float("nan"))
            return
        QUEUE_JOBS.labels("queued").set(depth.queued)
        QUEUE_JOBS.labels("running").set(depth.running)
        OLDEST_QUEUED_AGE.set(depth.oldest_queued_age_s)

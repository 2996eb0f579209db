"""Job status fan-out: one Redis pattern subscription per gateway process, shared by all its SSE clients.

A client may be connected to any replica while the worker publishes from anywhere, so every replica
listens to every job's channel (`PSUBSCRIBE`) and hands each message to the local connections watching
that job. That costs one Redis connection per process instead of one per client, and no connection
polls. Job events are few (a handful per job), so receiving all of them is cheap.

The same connection carries other process-wide announcements (key revocations) to `Listener`s, which
are told when the subscription is up and when it is lost, since a message sent meanwhile is gone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections import defaultdict
from collections.abc import AsyncIterator, Mapping
from typing import Protocol

import redis.asyncio as aioredis
from redis.exceptions import ConnectionError as RedisConnectionError

from services.shared.contracts import JobState
from services.shared.jobs import PREFIX, events_channel

log = logging.getLogger(__name__)
PATTERN = f"{PREFIX}:job-events:*"
QUEUE_SIZE = 64
RECONNECT_DELAY_S = 1.0


class Listener(Protocol):
    def connected(self) -> None: ...
    def lost(self) -> None: ...
    def message(self, data: str) -> None: ...


class JobEventHub:
    def __init__(self, redis: aioredis.Redis, listeners: Mapping[str, Listener] | None = None) -> None:
        self.redis = redis
        self.listeners = dict(listeners or {})
        self.watchers: dict[str, set[asyncio.Queue[JobState]]] = defaultdict(set)
        self.ready = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="job-event-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task

    @contextlib.asynccontextmanager
    async def watch(self, job_id: str) -> AsyncIterator[asyncio.Queue[JobState]]:
        """Queue of this job's changes; subscribe before reading the current state so nothing is missed."""
        await asyncio.wait_for(self.ready.wait(), timeout=5)
        queue: asyncio.Queue[JobState] = asyncio.Queue(QUEUE_SIZE)
        channel = events_channel(job_id)
        self.watchers[channel].add(queue)
        try:
            yield queue
        finally:
            self.watchers[channel].discard(queue)
            if not self.watchers[channel]:
                del self.watchers[channel]

    async def _run(self) -> None:
        while True:
            pubsub = self.redis.pubsub()
            try:
                await pubsub.psubscribe(PATTERN)
                if self.listeners:
                    await pubsub.subscribe(*self.listeners)
                self.ready.set()
                async for message in pubsub.listen():
                    kind, channel = message.get("type"), str(message.get("channel"))
                    if kind == "pmessage":
                        self._dispatch(channel, str(message["data"]))
                    elif channel in self.listeners:
                        if kind == "message":
                            self.listeners[channel].message(str(message["data"]))
                        elif kind == "subscribe":
                            # Redis confirms the subscription: from here on no announcement can be missed.
                            self.listeners[channel].connected()
            except (RedisConnectionError, OSError) as exc:
                log.warning("job event subscription lost (%s); reconnecting", exc)
                await asyncio.sleep(RECONNECT_DELAY_S)
            finally:
                self.ready.clear()
                for listener in self.listeners.values():
                    listener.lost()
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    def _dispatch(self, channel: str, data: str) -> None:
        queues = self.watchers.get(channel)
        if not queues:
            return
        state = JobState.model_validate_json(data)
        for queue in queues:
            if queue.full():
                queue.get_nowait()
            queue.put_nowait(state)

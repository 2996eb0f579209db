"""What a streaming client hears of a turn, as server-sent events.

The turn runs in its own task from the moment it is accepted, not from when the response starts
streaming, so a client that never reads the stream still gets its turn run and saved.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

from sse_starlette import ServerSentEvent

from services.chat.conversation import TurnEvents
from services.chat.metrics import WAITING
from services.chat.turns import public_path
from services.llm.budget import Waiting
from services.llm.calls import ClaudeCallError
from services.shared.contracts import ChatReply
from services.shared.errors import ApiError


def _event(name: str, data: object) -> ServerSentEvent:
    return ServerSentEvent(data=json.dumps(data), event=name)


class TurnStream:
    """`turn` at once; `wait` while in line (again when the place changes) and `admitted` after; `delta` as
    Claude writes; `reset` (with the text to keep) if a retry restarts; then `done` with the reply, or
    `error` (with `retry_after_s` when retrying later is worth it)."""

    def __init__(self, job_id: str, turn_id: str) -> None:
        self._queue: asyncio.Queue[ServerSentEvent | None] = asyncio.Queue()
        self._waiting = False
        self._queue.put_nowait(
            _event("turn", {"turn_id": turn_id, "job_id": job_id, "location": public_path(job_id, turn_id)})
        )

    def listeners(self) -> TurnEvents:
        return TurnEvents(text=self._text, restart=self._restart, wait=self._wait)

    async def _text(self, delta: str) -> None:
        await self._queue.put(_event("delta", {"text": delta}))

    async def _restart(self, kept: str) -> None:
        await self._queue.put(_event("reset", {"text": kept}))

    async def _wait(self, wait: Waiting | None) -> None:
        if wait is not None and not self._waiting:
            WAITING.inc()
        elif wait is None and self._waiting:
            WAITING.dec()
        self._waiting = wait is not None
        if wait is None:
            await self._queue.put(_event("admitted", {}))
        else:
            info = {"reason": wait.reason, "position": wait.position, "expected_wait_s": wait.expected_s}
            await self._queue.put(_event("wait", info))

    def follow(self, task: asyncio.Task[ChatReply]) -> None:
        task.add_done_callback(self._finished)

    def _finished(self, task: asyncio.Task[ChatReply]) -> None:
        if self._waiting:
            WAITING.dec()
        exc = None if task.cancelled() else task.exception()
        if not task.cancelled() and exc is None:
            self._queue.put_nowait(ServerSentEvent(data=task.result().model_dump_json(), event="done"))
        elif isinstance(exc, ClaudeCallError | ApiError):
            error: dict[str, object] = {"code": exc.code, "message": exc.message}
            retry_after = exc.headers.get("Retry-After") if isinstance(exc, ApiError) else None
            if retry_after:
                error["retry_after_s"] = int(retry_after)
            self._queue.put_nowait(_event("error", {"error": error}))
        else:
            self._queue.put_nowait(_event("error", {"error": {"code": "internal_error", "message": "the turn failed"}}))
        self._queue.put_nowait(None)

    async def events(self) -> AsyncIterator[ServerSentEvent]:
        while (event := await self._queue.get()) is not None:
            yield event

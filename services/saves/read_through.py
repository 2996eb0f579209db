"""The saves service's side of the read model (`services.shared.read_model`): it fills it and moves it on.

Reads store their answer under the generation read before their query. Writes check that Redis answers
before they commit (so a write never lands while the read model cannot follow it, and the caller can
retry it safely), then move on exactly the generations of what they changed.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Annotated

from fastapi import Depends, Request, Response
from pydantic import BaseModel
from redis.exceptions import RedisError

from services.shared.read_model import ReadModel, View

log = logging.getLogger(__name__)
AFTER_WRITE_TRIES = 3
AFTER_WRITE_BACKOFF_S = 0.05


async def _read_model(request: Request) -> ReadModel:
    read_model: ReadModel = request.app.state.read_model
    return read_model


Reads = Annotated[ReadModel, Depends(_read_model)]


async def serve(reads: ReadModel, owner: str, view: View, query: Callable[[], Awaitable[BaseModel]]) -> Response:
    """Answers a read and leaves it for the gateways, under the generation read *before* the query (so a
    write that commits meanwhile orphans it); serialised by pydantic's own encoder (saves are large)."""
    generation = await reads.generation(owner, view)
    answer = await query()
    entry = await reads.put(owner, generation, view, answer.model_dump_json())
    return Response(entry.body, media_type="application/json", headers={"ETag": entry.etag})


class Changes:
    """What a write changed, as read-model scopes; moved on once the write is over."""

    def __init__(self) -> None:
        self.scopes: list[str] = []

    def touch(self, *scopes: str) -> None:
        self.scopes.extend(scopes)


@asynccontextmanager
async def writing(reads: ReadModel, owner: str) -> AsyncIterator[Changes]:
    # A write never lands while the read model cannot be moved on after it (the caller may retry).
    await reads.redis.ping()
    changes = Changes()
    try:
        yield changes
    finally:
        if changes.scopes:
            await _move_on(reads, owner, changes.scopes)


async def _move_on(reads: ReadModel, owner: str, scopes: list[str]) -> None:
    for attempt in range(AFTER_WRITE_TRIES):
        try:
            await reads.invalidate(owner, *scopes)
            return
        except RedisError as exc:
            if attempt == AFTER_WRITE_TRIES - 1:
                # The write is committed; failing it now would only invite a duplicate retry. What was
                # cached before it expires with the read model's TTL.
                log.error("read model not moved on after a write for an owner: %r", exc)
            else:
                await asyncio.sleep(AFTER_WRITE_BACKOFF_S)

"""One turn at a time per save, and a turn's outcome kept where a client can fetch it later.

Two turns on one save both starting from revision N would each build N+1 and the later one would drop
the earlier change; so a turn holds a lease on its save (a Redis key, renewed while it runs, gone within
a lease if its process dies), and a second turn is refused with 409 `turn_in_progress` instead of
waiting behind a Claude call of unknown length. The outcome is kept for an hour under the turn's id,
owned like everything else, so a JSON client answered 202 (or a streaming client that lost its
connection) reads it at `/api/estimate/{job_id}/chat/turns/{turn_id}`.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
from collections.abc import AsyncIterator
from typing import Literal

import redis.asyncio as aioredis
from pydantic import BaseModel

from services.shared.contracts import ChatReply, ChatTurnCreate, ErrorInfo, TurnState
from services.shared.errors import ApiError

RESULT_TTL_S = 3600
# A turn Claude answered but saves could not store is kept (and retried) this long: a day of saves outage.
UNSTORED_TTL_S = 24 * 3600
# Claims the unstored turns due for a retry by moving them a claim period ahead, so that one replica at a
# time retries each, and another takes it over if that replica dies.
_CLAIM_DUE = """
local due = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[3]))
for _, id in ipairs(due) do redis.call('ZADD', KEYS[1], ARGV[2], id) end
return due
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""
_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
"""


class TurnRecord(BaseModel):
    turn_id: str
    job_id: str
    owner: str
    state: Literal["running", "succeeded", "failed"]
    reply: ChatReply | None = None
    error: ErrorInfo | None = None
    unstored: ChatTurnCreate | None = None
    attempts: int = 0


def public_path(job_id: str, turn_id: str) -> str:
    return f"/api/estimate/{job_id}/chat/turns/{turn_id}"


class Turns:
    def __init__(self, redis: aioredis.Redis, prefix: str, lease_s: float) -> None:
        self.redis = redis
        self.prefix = prefix
        self.lease_ms = int(lease_s * 1000)
        self._release = redis.register_script(_RELEASE)
        self._renew = redis.register_script(_RENEW)
        self._claim_due = redis.register_script(_CLAIM_DUE)

    def _active(self, job_id: str) -> str:
        return f"{self.prefix}:active:{job_id}"

    def _record(self, turn_id: str) -> str:
        return f"{self.prefix}:turn:{turn_id}"

    async def begin(self, owner: str, job_id: str) -> str:
        """Claims the save for a new turn, or 409 when one is already running on it."""
        turn_id = uuid.uuid4().hex
        if await self.redis.exists(self._unstored_of(job_id)):
            # The last turn's reply is still waiting for saves: a new turn would start from a history without it.
            raise ApiError(
                409,
                "turn_in_progress",
                "the previous chat turn on this estimate is still being stored; send this message shortly",
                headers={"Retry-After": "5"},
            )
        if not await self.redis.set(self._active(job_id), turn_id, nx=True, px=self.lease_ms):
            raise ApiError(
                409,
                "turn_in_progress",
                "another chat turn on this estimate is still running; send this message when it has finished",
                headers={"Retry-After": "5"},
            )
        await self._save(TurnRecord(turn_id=turn_id, job_id=job_id, owner=owner, state="running"))
        return turn_id

    def _unstored(self) -> str:
        return f"{self.prefix}:unstored"

    def _unstored_of(self, job_id: str) -> str:
        return f"{self.prefix}:unstored-of:{job_id}"

    async def _save(self, record: TurnRecord) -> None:
        ttl = UNSTORED_TTL_S if record.unstored is not None else RESULT_TTL_S
        await self.redis.set(self._record(record.turn_id), record.model_dump_json(), ex=ttl)

    async def record(self, turn_id: str) -> TurnRecord | None:
        raw = await self.redis.get(self._record(turn_id))
        return TurnRecord.model_validate_json(raw) if raw else None

    async def keep_unstored(
        self, owner: str, job_id: str, turn_id: str, reply: ChatReply, turn: ChatTurnCreate, retry_in_s: float
    ) -> None:
        """The turn succeeded (the client is told the reply) but is not stored yet: kept until it is."""
        record = TurnRecord(turn_id=turn_id, job_id=job_id, owner=owner, state="succeeded", reply=reply, unstored=turn)
        await self.redis.set(self._unstored_of(job_id), turn_id, ex=UNSTORED_TTL_S)
        await self.retry_later(record, retry_in_s)

    async def retry_later(self, record: TurnRecord, delay_s: float) -> None:
        await self._save(record)
        await self.redis.zadd(self._unstored(), {record.turn_id: time.time() + delay_s})

    async def claim_due(self, claim_s: float, limit: int = 10) -> list[str]:
        """Unstored turns due for a retry, claimed by this replica for `claim_s`."""
        now = time.time()
        due = await self._claim_due(keys=[self._unstored()], args=[now, now + claim_s, limit])
        return [item.decode() if isinstance(item, bytes) else str(item) for item in due]

    async def forget_unstored(self, record: TurnRecord | None, turn_id: str) -> None:
        """Stops retrying the turn; its record (if still kept) is kept an hour more, as any finished turn."""
        if record is not None:
            record.unstored = None
            await self._save(record)
            await self._release(keys=[self._unstored_of(record.job_id)], args=[turn_id])
        await self.redis.zrem(self._unstored(), turn_id)

    @contextlib.asynccontextmanager
    async def holding(self, job_id: str, turn_id: str) -> AsyncIterator[None]:
        """Keeps the save's lease alive while the block runs, and frees the save when it ends."""

        async def renew() -> None:
            while True:
                await asyncio.sleep(self.lease_ms / 3000)
                await self._renew(keys=[self._active(job_id)], args=[turn_id, self.lease_ms])

        keeper = asyncio.create_task(renew())
        try:
            yield
        finally:
            keeper.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await keeper
            await asyncio.shield(self._release(keys=[self._active(job_id)], args=[turn_id]))

    async def finish(self, owner: str, job_id: str, turn_id: str, outcome: ChatReply | ErrorInfo) -> None:
        reply = outcome if isinstance(outcome, ChatReply) else None
        error = outcome if isinstance(outcome, ErrorInfo) else None
        await self._save(
            TurnRecord(
                turn_id=turn_id,
                job_id=job_id,
                owner=owner,
                state="succeeded" if reply else "failed",
                reply=reply,
                error=error,
            )
        )

    async def state(self, owner: str, job_id: str, turn_id: str) -> TurnState:
        raw = await self.redis.get(self._record(turn_id))
        record = TurnRecord.model_validate_json(raw) if raw else None
        if record is None or record.owner != owner or record.job_id != job_id:
            raise ApiError(404, "not_found", "no such chat turn (turns are kept for an hour)")
        return TurnState.model_validate(record.model_dump(exclude={"owner", "unstored", "attempts"}))

"""The job store: estimation jobs live in Redis as JSON with a TTL, never in process memory.

Status (small, read on every poll) and input (up to 200k characters, read once by the worker) are kept
under separate keys so the hottest read path never parses the requirements. Every status change is
published on a per-job channel, which is what lets any gateway replica stream any job's events.
"""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

import redis.asyncio as aioredis
from pydantic import BaseModel
from pydantic_core import to_json

from services.estimation.models import RepoFacts
from services.shared.contracts import ErrorInfo, JobInput, JobState, Usage
from services.shared.redis import KEY_PREFIX

PREFIX = KEY_PREFIX

# Creates the job, its input and the idempotency record in one step, so two concurrent submissions with
# the same Idempotency-Key can never both create a job. Returns the winning job id and the stored
# fingerprint of the request that created it.
_CREATE = """
if ARGV[5] ~= '' then
  local existing = redis.call('GET', KEYS[3])
  if existing then
    local sep = string.find(existing, '|', 1, true)
    return {string.sub(existing, 1, sep - 1), string.sub(existing, sep + 1), 0}
  end
  redis.call('SET', KEYS[3], ARGV[4] .. '|' .. ARGV[5], 'EX', ARGV[3])
end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[3])
redis.call('SET', KEYS[2], ARGV[2], 'EX', ARGV[3])
return {ARGV[4], ARGV[5], 1}
"""

# Writes a new status and publishes it atomically: a subscriber that reads the status after subscribing
# can never miss the change.
_UPDATE = """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'KEEPTTL')
redis.call('PUBLISH', KEYS[2], ARGV[1])
return 1
"""

# Stores what Claude returned for a job, for as long as the job itself lives (never longer: nothing outlives it).
_KEEP_RESULT = """
local ttl = redis.call('PTTL', KEYS[1])
if ttl <= 0 then return 0 end
redis.call('SET', KEYS[2], ARGV[1], 'PX', ttl)
return 1
"""


class PaidResult(BaseModel):
    """Claude's validated answer for a job (a ClaudeEstimate as JSON) and the usage of every call that made it."""

    estimate: dict[str, Any]
    usage: Usage
    repository: RepoFacts | None = None


def job_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}"


def input_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}:input"


def result_key(job_id: str) -> str:
    return f"{PREFIX}:job:{job_id}:result"


def events_channel(job_id: str) -> str:
    return f"{PREFIX}:job-events:{job_id}"


def _idempotency_key(owner: str, key: str) -> str:
    digest = hashlib.sha256(f"{owner}\0{key}".encode()).hexdigest()
    return f"{PREFIX}:idem:{digest}"


def fingerprint(job_input: JobInput) -> str:
    """Identifies a request body, so a reused Idempotency-Key with a different body can be refused."""
    return hashlib.sha256(job_input.model_dump_json().encode()).hexdigest()


def now() -> datetime:
    return datetime.now(UTC)


class IdempotencyMismatch(Exception):
    """The Idempotency-Key was already used by this owner for a different request."""


class JobStore:
    def __init__(self, redis: aioredis.Redis, ttl_s: int) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._create = redis.register_script(_CREATE)
        self._update = redis.register_script(_UPDATE)
        self._keep_result = redis.register_script(_KEEP_RESULT)

    async def create(
        self, owner: str, job_input: JobInput, idempotency_key: str | None = None
    ) -> tuple[JobState, bool]:
        """Returns the job and whether it was created now (False: an idempotent replay)."""
        stamp = now()
        job = JobState(job_id=str(uuid.uuid4()), owner=owner, created_at=stamp, updated_at=stamp)
        idem_key = _idempotency_key(owner, idempotency_key) if idempotency_key else f"{PREFIX}:idem:none"
        fp = fingerprint(job_input) if idempotency_key else ""
        job_id, stored_fp, created = await self._create(
            keys=[job_key(job.job_id), input_key(job.job_id), idem_key],
            args=[job.stored_json(), job_input.model_dump_json(), self.ttl_s, job.job_id, fp],
        )
        if created:
            return job, True
        existing = await self._replayed(job_id, stored_fp, fp)
        if existing is None:
            raise IdempotencyMismatch(idempotency_key)
        return existing, False

    async def replay(self, owner: str, idempotency_key: str, job_input: JobInput) -> JobState | None:
        """The job an identical earlier request created, if any; a reused key with another body raises."""
        stored = await self.redis.get(_idempotency_key(owner, idempotency_key))
        if stored is None:
            return None
        job_id, _, stored_fp = str(stored).partition("|")
        return await self._replayed(job_id, stored_fp, fingerprint(job_input))

    async def _replayed(self, job_id: str, stored_fp: str, fp: str) -> JobState | None:
        if stored_fp != fp:
            raise IdempotencyMismatch(job_id)
        return await self.get(job_id)

    async def get(self, job_id: str) -> JobState | None:
        raw = await self.redis.get(job_key(job_id))
        return JobState.model_validate_json(raw) if raw else None

    async def public_json(self, job_id: str, owner: str) -> str | None:
        """The job's status document if `owner` owns it, for the hottest route. Parsing the stored job and
        serialising it again took about 15 µs a read; answering by slicing the stored layout (see
        `JobState.stored_json`) raised the route's throughput by about a tenth. A record in another layout
        (written by an earlier release during a rollout) or owned by someone else is parsed and checked."""
        stored: str | bytes | None = await self.redis.get(job_key(job_id))
        if stored is None:
            return None
        raw = stored.decode() if isinstance(stored, bytes) else stored
        head = '{"owner":' + to_json(owner).decode() + ","
        if raw.startswith(head):
            return "{" + raw[len(head) :]
        job = JobState.model_validate_json(raw)
        return job.public_json() if job.owner == owner else None

    async def get_input(self, job_id: str) -> JobInput | None:
        raw = await self.redis.get(input_key(job_id))
        return JobInput.model_validate_json(raw) if raw else None

    async def keep_result(self, job_id: str, result: PaidResult) -> bool:
        """Keeps Claude's paid answer with the job (same remaining TTL); False when the job has expired."""
        return bool(
            await self._keep_result(keys=[job_key(job_id), result_key(job_id)], args=[result.model_dump_json()])
        )

    async def paid_result(self, job_id: str) -> PaidResult | None:
        raw = await self.redis.get(result_key(job_id))
        return PaidResult.model_validate_json(raw) if raw else None

    async def count_try(self, job_id: str) -> int:
        """Counts a try that may call Claude (one without a stored answer); the count lives as long as the job."""
        key = f"{job_key(job_id)}:tries"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.ttl_s)
            tries, _ = await pipe.execute()
        return int(tries)

    async def start_claude_call(self, job_id: str) -> int:
        """Marks a Claude estimation about to be sent; returns how many earlier ones were cut before they
        answered (a worker killed mid-call), which were made, and may have been billed, all the same."""
        key = f"{job_key(job_id)}:claude-calls"
        async with self.redis.pipeline(transaction=True) as pipe:
            pipe.incr(key)
            pipe.expire(key, self.ttl_s)
            started, _ = await pipe.execute()
        return int(started) - 1

    async def ttl_s_left(self, job_id: str) -> float:
        """How long the job still lives in Redis (0 when it has expired)."""
        ms = int(await self.redis.pttl(job_key(job_id)))
        return max(0.0, ms / 1000)

    async def save(self, job: JobState) -> bool:
        """Stores and publishes a changed job; False when the job has expired meanwhile."""
        job.updated_at = now()
        return bool(
            await self._update(keys=[job_key(job.job_id), events_channel(job.job_id)], args=[job.stored_json()])
        )

    async def update(self, job_id: str, **changes: Any) -> JobState | None:
        job = await self.get(job_id)
        if job is None:
            return None
        if changes.get("status") == "running" and job.started_at is None:
            changes["started_at"] = now()  # the first time a worker takes the job: the end of its queue wait
        updated = job.model_copy(update=changes)
        await self.save(updated)
        return updated

    async def fail(self, job_id: str, code: str, message: str, usage: Usage | None = None) -> None:
        changes: dict[str, Any] = {
            "status": "failed",
            "stage": "failed",
            "error": ErrorInfo(code=code, message=message),
        }
        if usage is not None:
            changes["usage"] = usage
        await self.update(job_id, **changes)

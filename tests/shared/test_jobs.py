"""The status document as stored: what the status route answers without parsing must be exactly what
parsing would give, and only to the job's owner."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import pytest
import redis.asyncio as aioredis

from services.shared.contracts import ErrorInfo, JobInput, JobState, Usage
from services.shared.jobs import JobStore, job_key

OWNERS = ["alice", 'quo"te\\back', "ünïcødé 名前", "a,b:{c}"]


@pytest.fixture(params=[True, False], ids=["str-client", "bytes-client"])
async def store(request: pytest.FixtureRequest, redis_url: str) -> AsyncIterator[JobStore]:
    client = aioredis.Redis.from_url(redis_url, decode_responses=request.param)
    try:
        yield JobStore(client, 60)
    finally:
        await client.aclose()


def _variants(job: JobState) -> list[JobState]:
    later = job.created_at + timedelta(seconds=3)
    return [
        job,
        job.model_copy(update={"status": "running", "stage": "calling Claude", "progress": 0.4, "started_at": later}),
        job.model_copy(
            update={
                "status": "failed",
                "stage": "failed",
                "error": ErrorInfo(code="claude_unavailable", message='Claude said "no"\n'),
                "usage": Usage(calls=2, input_tokens=9000, output_tokens=1500, cost_usd=0.0495),
            }
        ),
        job.model_copy(update={"status": "succeeded", "stage": "done", "progress": 1.0, "save_id": "s" * 32}),
    ]


@pytest.mark.parametrize("owner", OWNERS)
async def test_the_owner_reads_exactly_the_public_document(store: JobStore, owner: str) -> None:
    job, _ = await store.create(owner, JobInput(requirements_md="# A shop"))
    for variant in _variants(job):
        assert await store.save(variant)
        stored = await store.get(job.job_id)
        assert stored is not None
        answered = await store.public_json(job.job_id, owner)
        assert answered == stored.public_json()
        assert "owner" not in json.loads(answered)
        raw = await store.redis.get(job_key(job.job_id))
        # The layout that lets the route answer without parsing (JobState.stored_json).
        assert (raw.decode() if isinstance(raw, bytes) else raw).startswith('{"owner":')


async def test_nobody_else_reads_it(store: JobStore) -> None:
    job, _ = await store.create("alice", JobInput(requirements_md="# A shop"))
    for other in ("ali", "alice ", "Alice", 'alice","x', ""):
        assert await store.public_json(job.job_id, other) is None
    assert await store.public_json("0" * 32, "alice") is None


async def test_a_job_stored_by_an_earlier_release_is_still_answered(store: JobStore) -> None:
    """Before 2026-12-04 a job was stored with `job_id` first and its empty fields as nulls."""
    stamp = datetime.now(UTC).isoformat()
    job_id = "e" * 32
    earlier = {"job_id": job_id, "owner": "alice", "status": "queued", "stage": "queued", "progress": 0.0}
    earlier |= {"save_id": None, "error": None, "usage": Usage().model_dump(), "created_at": stamp}
    earlier |= {"updated_at": stamp, "started_at": None}
    await store.redis.set(job_key(job_id), json.dumps(earlier), ex=60)
    answered = await store.public_json(job_id, "alice")
    assert answered is not None
    assert json.loads(answered) == JobState.model_validate(earlier).model_dump(
        mode="json", exclude={"owner"}, exclude_none=True
    )
    assert await store.public_json(job_id, "bob") is None

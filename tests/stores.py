"""Stores of its own for each test run and each benchmark: a Redis DB number and a PostgreSQL database.

Runs on one machine (a developer and CI, two developers, a benchmark beside the suite) therefore never
see each other's keys or rows. A run claims its Redis DB with `SET NX` on a key in DB 0 (expiring, so
a crashed run frees it eventually); both stores are real servers, emptied and removed afterwards.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import asyncpg
import redis.asyncio as aioredis

from services.shared.redis import KEY_PREFIX

REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
CLAIM_TTL_S = 3 * 3600
DB_NUMBERS = range(1, 16)


def claim_key(db: int) -> str:
    return f"{KEY_PREFIX}:db-claim:{db}"


def database_url(name: str) -> str:
    return f"{PG_ADMIN_DSN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://')}/{name}"


@asynccontextmanager
async def isolated_stores(kind: str = "test") -> AsyncIterator[tuple[str, str]]:
    """(redis_url, database_url) that nobody else uses, removed when the block ends."""
    admin = aioredis.Redis.from_url(f"{REDIS_BASE}/0")
    db = None
    for number in DB_NUMBERS:
        if await admin.set(claim_key(number), os.getpid(), nx=True, ex=CLAIM_TTL_S):
            db = number
            break
    if db is None:
        await admin.aclose()
        raise RuntimeError(f"all Redis databases 1..15 are claimed; clear {claim_key(0)[:-1]}* in DB 0")
    name = f"estimator_{kind}_{uuid.uuid4().hex[:12]}"
    pg = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await pg.execute(f'CREATE DATABASE "{name}"')
    finally:
        await pg.close()
    redis_url = f"{REDIS_BASE}/{db}"
    data = aioredis.Redis.from_url(redis_url)
    await data.flushdb()
    try:
        yield redis_url, database_url(name)
    finally:
        await data.flushdb()
        await data.aclose()
        await admin.delete(claim_key(db))
        await admin.aclose()
        pg = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await pg.close()

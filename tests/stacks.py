"""Building stacks for tests: every one isolated (own ports, queue and Claude budget) from the others.

Many stacks share a run's Redis DB and PostgreSQL database; a queue name and a budget prefix of their
own keep their jobs and their Claude capacity apart.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path

import httpx
import pytest
from asgi_lifespan import LifespanManager

from services.devstack.resolve import Resolved
from services.devstack.supervisor import Stack
from services.gateway.app import create_app
from services.shared import settings as service_settings
from services.shared.internal import OWNER_HEADER, TOKEN_HEADER
from services.shared.local import Ports
from tests.github_stub import free_port

FAST_AND_UNLIMITED = {
    "SIM_TOKENS_PER_SECOND": "20000",
    "SIM_FIRST_TOKEN_LATENCY_S": "0",
    "ESTIMATE_RATE_LIMIT": "1000/minute",
    "CHAT_RATE_LIMIT": "1000/minute",
    # Every test talks from 127.0.0.1: the tests that check failed authentications set their own limit.
    "AUTH_FAILURE_LIMIT": "1000/minute",
}


def free_ports() -> Ports:
    return Ports(free_port(), free_port(), free_port(), free_port(), free_port())


def isolated_stack(
    resolved: Resolved, log_dir: Path, *, workers: int = 1, env: Mapping[str, str] | None = None
) -> Stack:
    """A stack with its own queue and budget; `env` overrides the fast, unlimited defaults."""
    return Stack(
        resolved=resolved,
        ports=free_ports(),
        workers=workers,
        log_dir=log_dir,
        extra_env={
            **FAST_AND_UNLIMITED,
            "QUEUE_NAME": f"estimator:queue:test:{uuid.uuid4().hex[:8]}",
            "LLM_BUDGET_PREFIX": f"estimator:budget:test:{uuid.uuid4().hex[:8]}",
            "CHAT_KEY_PREFIX": f"estimator:chat:test:{uuid.uuid4().hex[:8]}",
            **(env or {}),
        },
    )


def on_stores(redis_url: str, database_url: str, state_dir: Path) -> Resolved:
    return Resolved(redis_url, database_url, False, False, state_dir)


@asynccontextmanager
async def in_process_gateway(
    monkeypatch: pytest.MonkeyPatch, env: Mapping[str, str], peer: str = "127.0.0.1"
) -> AsyncIterator[httpx.AsyncClient]:
    """A gateway app in this process (its lifespan run), configured by `env`, seen from `peer`."""
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    service_settings.reload()
    try:
        app = create_app()
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app, client=(peer, 40000))
            async with httpx.AsyncClient(transport=transport, base_url="http://gateway") as client:
                yield client
    finally:
        service_settings.reload()


@asynccontextmanager
async def in_process_chat(
    monkeypatch: pytest.MonkeyPatch, stack: Stack, env: Mapping[str, str]
) -> AsyncIterator[httpx.AsyncClient]:
    """A chat service in this process, wired to `stack`'s stores, saves and simulator, configured by `env`.

    It shares the stack's budget and turn keys, as another replica of the stack's chat would.
    """
    from services.chat.app import create_app as create_chat_app

    for name, value in {**stack.env_used, **env}.items():
        monkeypatch.setenv(name, value)
    service_settings.reload()
    try:
        app = create_chat_app()
        async with LifespanManager(app) as manager:
            transport = httpx.ASGITransport(app=manager.app)
            headers = {TOKEN_HEADER: stack.env_used["INTERNAL_TOKEN"], OWNER_HEADER: "alice"}
            async with httpx.AsyncClient(transport=transport, base_url="http://chat", headers=headers) as client:
                yield client
    finally:
        service_settings.reload()

"""Fixtures for the saves service: an engine on this run's PostgreSQL database and the app over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from asgi_lifespan import LifespanManager
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.saves.app import create_app
from services.saves.db import make_engine, make_sessionmaker
from services.saves.settings import SavesSettings
from services.shared.internal import TOKEN_HEADER

INTERNAL_TOKEN = "test-internal-token"


@pytest.fixture(scope="session")
async def engine(database_url: str) -> AsyncIterator[AsyncEngine]:
    engine = make_engine(database_url, SavesSettings(database_url=database_url))
    try:
        yield engine
    finally:
        await engine.dispose()


@pytest.fixture(scope="session")
def sessions(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return make_sessionmaker(engine)


@pytest.fixture
async def session(sessions: async_sessionmaker[AsyncSession]) -> AsyncIterator[AsyncSession]:
    async with sessions() as session:
        yield session


@pytest.fixture
async def app(settings_env: None) -> AsyncIterator[FastAPI]:
    app = create_app()
    async with LifespanManager(app):
        yield app


@pytest.fixture
async def client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A caller holding the internal token, as the gateway, worker and chat service do."""
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app),
        base_url="http://saves",
        headers={TOKEN_HEADER: INTERNAL_TOKEN},
    ) as client:
        yield client

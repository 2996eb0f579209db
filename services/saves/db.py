"""Engine, sessions and migrations: the one place the estimator opens database connections."""

from __future__ import annotations

import asyncio
import logging
import time
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, event
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from services.saves.db_metrics import instrument_query_latency
from services.saves.settings import SavesSettings
from services.shared.backoff import full_jitter
from services.shared.local_fallback import require_local_fallback
from services.shared.tracing import configure_tracing

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
log = logging.getLogger(__name__)


def is_sqlite(url: str) -> bool:
    return url.startswith("sqlite")


def _require_sqlite_driver(url: str) -> None:
    """SQLite is the laptop fallback: its driver (aiosqlite) is in the `local` extra, not in the image."""
    if is_sqlite(url):
        require_local_fallback("aiosqlite", f"the SQLite database {url!r}")


def _enable_sqlite_integrity(dbapi_connection: DBAPIConnection, _: ConnectionPoolEntry) -> None:
    """SQLite ignores foreign keys (hence ON DELETE CASCADE) unless asked, per connection; WAL lets the
    laptop's several services read while one writes."""
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.close()


def make_engine(url: str, settings: SavesSettings) -> AsyncEngine:
    _require_sqlite_driver(url)
    if is_sqlite(url):
        engine = create_async_engine(url, connect_args={"timeout": 30})
        event.listen(engine.sync_engine, "connect", _enable_sqlite_integrity)
    else:
        engine = create_async_engine(
            url,
            pool_size=settings.db_pool_size,
            max_overflow=settings.db_max_overflow,
            pool_pre_ping=True,
        )
    instrument_query_latency(engine)
    if configure_tracing("saves"):
        from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

        # Its declared range stops before SQLAlchemy 2.1, whose engine events it uses unchanged.
        SQLAlchemyInstrumentor().instrument(engine=engine.sync_engine, skip_dep_check=True)
    return engine


def make_sessionmaker(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    # Rows stay readable after commit: responses are built from them once the transaction is over.
    return async_sessionmaker(engine, expire_on_commit=False)


async def _until_reachable(engine: AsyncEngine, wait_s: float) -> None:
    deadline = time.monotonic() + wait_s
    attempt = 0
    while True:
        try:
            async with engine.connect():
                return
        except (OSError, DBAPIError) as exc:
            if time.monotonic() >= deadline:
                raise
            log.info("waiting for the database (%s)", type(exc).__name__)
            await asyncio.sleep(min(full_jitter(attempt), max(0.0, deadline - time.monotonic())))
            attempt += 1


def alembic_config(url: str) -> Config:
    """Alembic configured from code, so an installed image needs no alembic.ini next to it."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["url"] = url
    return config


def _upgrade(connection: Connection, config: Config) -> None:
    config.attributes["connection"] = connection
    command.upgrade(config, "head")


async def run_migrations(url: str, *, wait_s: float = 0) -> None:
    """`alembic upgrade head` on an async driver: Alembic runs synchronously on a connection we lend it.

    `wait_s` lets a migration Job start before its database does (a fresh release, a restarting server).
    """
    _require_sqlite_driver(url)
    engine = create_async_engine(url)
    if is_sqlite(url):
        event.listen(engine.sync_engine, "connect", _enable_sqlite_integrity)
    try:
        await _until_reachable(engine, wait_s)
        async with engine.begin() as connection:
            await connection.run_sync(_upgrade, alembic_config(url))
    finally:
        await engine.dispose()

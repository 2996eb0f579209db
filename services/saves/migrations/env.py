"""Alembic environment for async drivers (asyncpg on PostgreSQL, aiosqlite on a laptop).

`services.saves.db.run_migrations` lends Alembic an open connection; the `alembic` command line, given
`-x url=...` or DATABASE_URL, opens its own async engine instead.
"""

from __future__ import annotations

import asyncio

from alembic import context
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from services.saves.models import Base
from services.saves.settings import get_settings

config = context.config
target_metadata = Base.metadata


def _url() -> str:
    url = context.get_x_argument(as_dictionary=True).get("url") or config.attributes.get("url")
    return str(url or get_settings().database_url)


def _migrate(connection: Connection) -> None:
    # Batch mode lets later migrations alter columns on SQLite, which cannot ALTER most things in place.
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=connection.dialect.name == "sqlite",
    )
    with context.begin_transaction():
        context.run_migrations()


async def _migrate_with_own_engine() -> None:
    engine = create_async_engine(_url())
    try:
        async with engine.begin() as connection:
            await connection.run_sync(_migrate)
    finally:
        await engine.dispose()


def run_offline() -> None:
    context.configure(url=_url(), target_metadata=target_metadata, literal_binds=True)
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    run_offline()
elif (lent := config.attributes.get("connection")) is not None:
    _migrate(lent)
else:
    asyncio.run(_migrate_with_own_engine())

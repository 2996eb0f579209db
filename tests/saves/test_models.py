"""The hand-written migrations must build exactly the schema the models describe."""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import Connection
from sqlalchemy.ext.asyncio import AsyncEngine

from services.saves.models import Base


def _diff(connection: Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), Base.metadata))


async def test_autogenerate_finds_no_difference_between_models_and_migrated_postgresql(
    engine: AsyncEngine,
) -> None:
    async with engine.connect() as connection:
        assert await connection.run_sync(_diff) == []

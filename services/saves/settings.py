"""The saves service's settings: the database it alone connects to, and the read model it fills."""

from __future__ import annotations

from pydantic import Field

from services.shared.settings import HttpSettings, ReadModelSettings, ServiceSettings, loader


class SavesSettings(ServiceSettings, HttpSettings, ReadModelSettings):
    database_url: str = Field(
        default="postgresql+asyncpg://postgres@127.0.0.1:5432/estimator",
        description="`sqlite+aiosqlite:///…` also works (the laptop fallback)",
    )
    db_pool_size: int = Field(default=10, ge=1, description="connections per saves replica (PostgreSQL)")
    db_max_overflow: int = Field(default=10, ge=0, description="connections beyond the pool per replica")
    key_mirror_sync_s: float = Field(
        default=5.0, gt=0, description="how often revocations in the database are carried to the gateways"
    )


get_settings = loader(SavesSettings)

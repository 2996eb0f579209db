"""The PostgreSQL schema, as SQLAlchemy models; migrations in `migrations/versions` must match it exactly.

Every type is chosen to be portable: the same models and migrations also run on SQLite through aiosqlite,
which is what `make run` falls back to on a laptop without PostgreSQL.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
    TypeDecorator,
    Uuid,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# none_as_null: a Python None must become SQL NULL, not the JSON literal `null`, so `IS NULL` means "absent".
JsonDocument = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

# SQLite has no 64-bit autoincrement other than its INTEGER PRIMARY KEY rowid.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator[datetime]):
    """A timestamptz on PostgreSQL; on SQLite, which stores naive text, values are written and read as UTC."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetimes are ambiguous; pass an aware one")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def utcnow() -> datetime:
    return datetime.now(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {dict[str, Any]: JsonDocument, list[dict[str, Any]]: JsonDocument, datetime: UtcDateTime}


class Methodology(Base):
    """The estimation methodology, stored once per version: every save refers to the one it was made with.

    It is 25 KB of prose that only changes with a release, so saves (and their reads) do not carry it.
    """

    __tablename__ = "methodologies"

    version: Mapped[str] = mapped_column(String(64), primary_key=True)
    content: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Save(Base):
    """A finished estimate with its current revision inlined, so reading a save is one row."""

    __tablename__ = "saves"

    save_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(200))
    job_id: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    status: Mapped[str] = mapped_column(String(32))
    revision: Mapped[int] = mapped_column(Integer)
    github_url: Mapped[str | None] = mapped_column(String(500))
    repository: Mapped[dict[str, Any] | None]
    requirements_md: Mapped[str] = mapped_column(Text)
    methodology_version: Mapped[str] = mapped_column(ForeignKey("methodologies.version"))
    report_markdown: Mapped[str] = mapped_column(Text)
    estimate_data: Mapped[dict[str, Any]]
    financials_data: Mapped[dict[str, Any]]
    cross_check: Mapped[dict[str, Any]]
    totals: Mapped[dict[str, Any]]
    usage: Mapped[dict[str, Any]]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


# Serves the listing's keyset query (owner = ? AND (updated_at, save_id) < (?, ?) ORDER BY both DESC)
# as a plain index range scan: no sort, no OFFSET, whatever page is read.
Index("ix_saves_owner_updated_at_save_id", Save.owner, Save.updated_at.desc(), Save.save_id.desc())


class SaveRevision(Base):
    """Every revision a save went through, so a chat change can be inspected or undone later."""

    __tablename__ = "save_revisions"

    save_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("saves.save_id", ondelete="CASCADE"), primary_key=True)
    revision: Mapped[int] = mapped_column(Integer, primary_key=True)
    estimate_data: Mapped[dict[str, Any]]
    financials_data: Mapped[dict[str, Any]]
    cross_check: Mapped[dict[str, Any]]
    report_markdown: Mapped[str] = mapped_column(Text)
    totals: Mapped[dict[str, Any]]
    reason: Mapped[str] = mapped_column(Text)
    operations: Mapped[list[dict[str, Any]] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ChatMessageRow(Base):
    """One side of a chat turn; `id` gives the conversation its order, `revision` the estimate it saw."""

    __tablename__ = "chat_messages"
    __table_args__ = (Index("ix_chat_messages_save_id_id", "save_id", "id"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    save_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("saves.save_id", ondelete="CASCADE"))
    role: Mapped[str] = mapped_column(String(16))
    content: Mapped[str] = mapped_column(Text)
    revision: Mapped[int] = mapped_column(Integer)
    usage: Mapped[dict[str, Any] | None]
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class ApiKey(Base):
    """A user's API key, stored only as its hash plus a short prefix people can recognise it by."""

    __tablename__ = "api_keys"

    key_id: Mapped[uuid.UUID] = mapped_column(Uuid, primary_key=True, default=uuid.uuid4)
    owner: Mapped[str] = mapped_column(String(200), index=True)
    key_hash: Mapped[str] = mapped_column(String(64), unique=True)
    prefix: Mapped[str] = mapped_column(String(8), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    revoked_at: Mapped[datetime | None]

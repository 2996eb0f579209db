"""Initial schema: saves, their revisions, chat messages and API keys.

Revision ID: 0001
Revises:
Create Date: 2025-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
BIG_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    op.create_table(
        "saves",
        sa.Column("save_id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("job_id", sa.String(length=64), nullable=False),
        sa.Column("name", sa.String(length=200), nullable=False),
        sa.Column("status", sa.String(length=32), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("github_url", sa.String(length=500), nullable=True),
        sa.Column("requirements_md", sa.Text(), nullable=False),
        sa.Column("model_md", sa.Text(), nullable=False),
        sa.Column("report_markdown", sa.Text(), nullable=False),
        sa.Column("estimate_data", JSON_DOCUMENT, nullable=False),
        sa.Column("financials_data", JSON_DOCUMENT, nullable=False),
        sa.Column("cross_check", JSON_DOCUMENT, nullable=False),
        sa.Column("totals", JSON_DOCUMENT, nullable=False),
        sa.Column("usage", JSON_DOCUMENT, nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("save_id", name=op.f("pk_saves")),
        sa.UniqueConstraint("job_id", name=op.f("uq_saves_job_id")),
    )
    op.create_index(
        "ix_saves_owner_updated_at_save_id",
        "saves",
        ["owner", sa.text("updated_at DESC"), sa.text("save_id DESC")],
    )

    op.create_table(
        "save_revisions",
        sa.Column("save_id", sa.Uuid(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("estimate_data", JSON_DOCUMENT, nullable=False),
        sa.Column("financials_data", JSON_DOCUMENT, nullable=False),
        sa.Column("cross_check", JSON_DOCUMENT, nullable=False),
        sa.Column("report_markdown", sa.Text(), nullable=False),
        sa.Column("totals", JSON_DOCUMENT, nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["save_id"], ["saves.save_id"], name=op.f("fk_save_revisions_save_id_saves"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("save_id", "revision", name=op.f("pk_save_revisions")),
    )

    op.create_table(
        "chat_messages",
        sa.Column("id", BIG_ID, autoincrement=True, nullable=False),
        sa.Column("save_id", sa.Uuid(), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("revision", sa.Integer(), nullable=False),
        sa.Column("usage", JSON_DOCUMENT, nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["save_id"], ["saves.save_id"], name=op.f("fk_chat_messages_save_id_saves"), ondelete="CASCADE"
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_chat_messages")),
    )
    op.create_index("ix_chat_messages_save_id_id", "chat_messages", ["save_id", "id"])

    op.create_table(
        "api_keys",
        sa.Column("key_id", sa.Uuid(), nullable=False),
        sa.Column("owner", sa.String(length=200), nullable=False),
        sa.Column("key_hash", sa.String(length=64), nullable=False),
        sa.Column("prefix", sa.String(length=8), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("key_id", name=op.f("pk_api_keys")),
        sa.UniqueConstraint("key_hash", name=op.f("uq_api_keys_key_hash")),
    )
    op.create_index("ix_api_keys_owner", "api_keys", ["owner"])
    op.create_index("ix_api_keys_prefix", "api_keys", ["prefix"])


def downgrade() -> None:
    op.drop_table("api_keys")
    op.drop_table("chat_messages")
    op.drop_table("save_revisions")
    op.drop_index("ix_saves_owner_updated_at_save_id", table_name="saves")
    op.drop_table("saves")

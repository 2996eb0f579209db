"""A revision keeps the edit operations that made it, beside the estimate they produced.

Revisions made before chat edited by operations have none (NULL): they were whole re-emitted estimates.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-03
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")


def upgrade() -> None:
    with op.batch_alter_table("save_revisions") as batch:
        batch.add_column(sa.Column("operations", JSON_DOCUMENT, nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("save_revisions") as batch:
        batch.drop_column("operations")

"""The methodology document is stored once per version; saves refer to it instead of carrying a copy.

Existing saves keep exactly the text they were made with: each distinct `model_md` becomes a version
named by its content digest (the same rule the application uses).

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-02
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0002"
down_revision: str | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

methodologies = sa.table(
    "methodologies",
    sa.column("version", sa.String),
    sa.column("content", sa.Text),
    sa.column("created_at", sa.DateTime(timezone=True)),
)
saves = sa.table(
    "saves",
    sa.column("model_md", sa.Text),
    sa.column("methodology_version", sa.String),
)


def _version(content: str) -> str:
    return hashlib.sha256(content.encode()).hexdigest()[:16]


def upgrade() -> None:
    op.create_table(
        "methodologies",
        sa.Column("version", sa.String(length=64), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.PrimaryKeyConstraint("version", name=op.f("pk_methodologies")),
    )
    with op.batch_alter_table("saves") as batch:
        batch.add_column(sa.Column("methodology_version", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    for (content,) in connection.execute(sa.select(saves.c.model_md).distinct()).all():
        version = _version(content)
        connection.execute(sa.insert(methodologies).values(version=version, content=content, created_at=sa.func.now()))
        connection.execute(
            sa.update(saves).where(saves.c.model_md == content).values(methodology_version=version)
        )
    with op.batch_alter_table("saves") as batch:
        batch.alter_column("methodology_version", existing_type=sa.String(length=64), nullable=False)
        batch.create_foreign_key(
            op.f("fk_saves_methodology_version_methodologies"), "methodologies", ["methodology_version"], ["version"]
        )
        batch.drop_column("model_md")


def downgrade() -> None:
    with op.batch_alter_table("saves") as batch:
        batch.add_column(sa.Column("model_md", sa.Text(), nullable=True))
    connection = op.get_bind()
    for version, content in connection.execute(sa.select(methodologies.c.version, methodologies.c.content)).all():
        connection.execute(sa.update(saves).where(saves.c.methodology_version == version).values(model_md=content))
    with op.batch_alter_table("saves") as batch:
        batch.alter_column("model_md", existing_type=sa.Text(), nullable=False)
        batch.drop_constraint(op.f("fk_saves_methodology_version_methodologies"), type_="foreignkey")
        batch.drop_column("methodology_version")
    op.drop_table("methodologies")

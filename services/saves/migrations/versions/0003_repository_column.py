"""What was learnt about a save's repository gets a column of its own instead of riding in estimate_data.

Claude's judgement (estimate_data) and facts fetched from GitHub are different things; existing saves
and revisions have the facts moved out of `estimate_data["repository"]`, and back on downgrade.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-02
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

JSON_DOCUMENT = sa.JSON(none_as_null=True).with_variant(postgresql.JSONB(none_as_null=True), "postgresql")
KEY = "repository"


def _document(value: Any) -> dict[str, Any]:
    """JSON columns read back as text on SQLite and as dicts on PostgreSQL."""
    return dict(json.loads(value) if isinstance(value, str) else value)


def _json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def _set(table: str, assignments: dict[str, str | None], where: dict[str, Any]) -> None:
    connection = op.get_bind()
    placeholder = "CAST(:{} AS JSONB)" if connection.dialect.name == "postgresql" else ":{}"
    sets = ", ".join(f"{column} = {placeholder.format(column)}" for column in assignments)
    condition = " AND ".join(f"{column} = :w_{column}" for column in where)
    params = assignments | {f"w_{column}": value for column, value in where.items()}
    connection.execute(sa.text(f"UPDATE {table} SET {sets} WHERE {condition}"), params)


def upgrade() -> None:
    with op.batch_alter_table("saves") as batch:
        batch.add_column(sa.Column("repository", JSON_DOCUMENT, nullable=True))
    connection = op.get_bind()
    for save_id, estimate_data in connection.execute(sa.text("SELECT save_id, estimate_data FROM saves")).all():
        data = _document(estimate_data)
        facts = data.pop(KEY, None)
        _set("saves", {"estimate_data": _json(data), "repository": _json(facts)}, {"save_id": save_id})
    revisions = connection.execute(sa.text("SELECT save_id, revision, estimate_data FROM save_revisions")).all()
    for save_id, number, estimate_data in revisions:
        data = _document(estimate_data)
        data.pop(KEY, None)
        _set("save_revisions", {"estimate_data": _json(data)}, {"save_id": save_id, "revision": number})


def downgrade() -> None:
    connection = op.get_bind()
    rows = connection.execute(
        sa.text(
            "SELECT r.save_id, r.revision, r.estimate_data, s.repository FROM save_revisions r "
            "JOIN saves s ON s.save_id = r.save_id"
        )
    ).all()
    for save_id, number, estimate_data, facts in rows:
        data = _document(estimate_data) | {KEY: _document(facts) if facts is not None else None}
        _set("save_revisions", {"estimate_data": _json(data)}, {"save_id": save_id, "revision": number})
    for save_id, estimate_data, facts in connection.execute(
        sa.text("SELECT save_id, estimate_data, repository FROM saves")
    ).all():
        data = _document(estimate_data) | {KEY: _document(facts) if facts is not None else None}
        _set("saves", {"estimate_data": _json(data)}, {"save_id": save_id})
    with op.batch_alter_table("saves") as batch:
        batch.drop_column("repository")

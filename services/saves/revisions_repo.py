"""A save's revisions, read-only and scoped by owner like the save: another owner's save has none (404).

Revisions are written with the save (revision 1, `saves_repo.upsert_from_job`) and by chat turns
(`chat_repo.append_chat_turn`); they never change afterwards and go with their save (ON DELETE CASCADE).
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.estimation.diff import PricedEstimate, diff_estimates
from services.estimation.models import ClaudeEstimate, Financials
from services.saves.cursor import decode_revision_cursor, encode_revision_cursor
from services.saves.models import Save, SaveRevision
from services.saves.saves_repo import not_found, parse_save_id
from services.shared.contracts import (
    RevisionDetail,
    RevisionDiff,
    RevisionPage,
    RevisionSummary,
    Totals,
    revision_number,
)
from services.shared.errors import ApiError


def no_such_revision() -> ApiError:
    return ApiError(404, "not_found", "no such revision")


def parse_revision(revision: str) -> int:
    """Like a malformed save id, a malformed revision number names nothing: 404, not 422."""
    number = revision_number(revision)
    if number is None:
        raise no_such_revision()
    return number


async def _owned(session: AsyncSession, owner: str, save_id: str) -> uuid.UUID:
    found = await session.scalar(
        select(Save.save_id).where(Save.owner == owner, Save.save_id == parse_save_id(save_id))
    )
    if found is None:
        raise not_found()
    return found


def _operation_count(session: AsyncSession) -> Any:
    """The length of the operations list, computed by the database so a page never loads the lists."""
    length = func.jsonb_array_length if session.get_bind().dialect.name == "postgresql" else func.json_array_length
    return func.coalesce(length(SaveRevision.operations), 0)


async def list_revisions(
    session: AsyncSession, owner: str, save_id: str, limit: int, cursor: str | None
) -> RevisionPage:
    """Newest first; keyset on the revision number (the primary key's second column): limit+1 rows, no OFFSET."""
    owned = await _owned(session, owner, save_id)
    query = (
        select(
            SaveRevision.revision,
            SaveRevision.reason,
            SaveRevision.created_at,
            SaveRevision.totals,
            _operation_count(session).label("operation_count"),
        )
        .where(SaveRevision.save_id == owned)
        .order_by(SaveRevision.revision.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(SaveRevision.revision < decode_revision_cursor(cursor))
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    items = [
        RevisionSummary(
            revision=row.revision,
            reason=row.reason,
            created_at=row.created_at,
            totals=Totals.model_validate(row.totals),
            operation_count=row.operation_count,
        )
        for row in page
    ]
    next_cursor = encode_revision_cursor(page[-1].revision) if len(rows) > limit else None
    return RevisionPage(items=items, next_cursor=next_cursor)


def _detail(row: SaveRevision) -> RevisionDetail:
    return RevisionDetail(
        save_id=str(row.save_id),
        revision=row.revision,
        reason=row.reason,
        created_at=row.created_at,
        totals=Totals.model_validate(row.totals),
        operation_count=len(row.operations or []),
        operations=row.operations,
        estimate_data=row.estimate_data,
        financials_data=row.financials_data,
        cross_check=row.cross_check,
        report_markdown=row.report_markdown,
    )


async def _revisions(session: AsyncSession, owner: str, save_id: str, *numbers: int) -> dict[int, SaveRevision]:
    owned = await _owned(session, owner, save_id)
    rows = await session.scalars(
        select(SaveRevision).where(SaveRevision.save_id == owned, SaveRevision.revision.in_(set(numbers)))
    )
    found = {row.revision: row for row in rows}
    if any(number not in found for number in numbers):
        raise no_such_revision()
    return found


async def get_revision(session: AsyncSession, owner: str, save_id: str, revision: int) -> RevisionDetail:
    return _detail((await _revisions(session, owner, save_id, revision))[revision])


def _priced(row: SaveRevision) -> PricedEstimate:
    return PricedEstimate(
        ClaudeEstimate.model_validate(row.estimate_data), Financials.model_validate(row.financials_data)
    )


async def diff_revisions(session: AsyncSession, owner: str, save_id: str, revision: int, against: int) -> RevisionDiff:
    """What changed from revision `against` to `revision` (either may be the older one)."""
    found = await _revisions(session, owner, save_id, revision, against)
    diff = diff_estimates(_priced(found[against]), _priced(found[revision]))
    return RevisionDiff(save_id=str(found[revision].save_id), from_revision=against, to_revision=revision, **dict(diff))

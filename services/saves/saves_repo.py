"""Saves, always scoped by owner: another owner's save and a missing one look the same (404).

Each writing function is one transaction and commits it, so a route cannot forget to.
"""

from __future__ import annotations

import uuid
from typing import Any, NamedTuple

from sqlalchemy import Select, delete, select, tuple_
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.ext.asyncio import AsyncSession

from services.estimation.methodology import version_of
from services.estimation.models import RepoFacts
from services.saves.cursor import decode_cursor, encode_cursor
from services.saves.models import Methodology, Save, SaveRevision, utcnow
from services.shared.contracts import Methodology as MethodologyDoc
from services.shared.contracts import SaveCreate, SaveDetail, SavePage, SaveRename, SaveSummary, Totals, Usage
from services.shared.errors import ApiError

SAVE_STATUS_READY = "ready"
INITIAL_REASON = "initial estimate"


class UpsertResult(NamedTuple):
    save: SaveDetail
    created: bool


def not_found() -> ApiError:
    return ApiError(404, "not_found", "no such save")


def parse_save_id(save_id: str) -> uuid.UUID:
    """A malformed id is just an id that does not exist: answering 404, not 422, leaks nothing."""
    try:
        return uuid.UUID(save_id)
    except ValueError as exc:
        raise not_found() from exc


def canonical_save_id(save_id: str) -> str:
    """The one spelling of an id, so every way of writing it reads and invalidates the same cache entry."""
    return str(parse_save_id(save_id))


def to_detail(row: Save) -> SaveDetail:
    return SaveDetail(
        save_id=str(row.save_id),
        job_id=row.job_id,
        name=row.name,
        status=row.status,
        revision=row.revision,
        created_at=row.created_at,
        updated_at=row.updated_at,
        totals=Totals.model_validate(row.totals),
        github_url=row.github_url,
        repository=RepoFacts.model_validate(row.repository) if row.repository else None,
        requirements_md=row.requirements_md,
        methodology_version=row.methodology_version,
        report_markdown=row.report_markdown,
        estimate_data=row.estimate_data,
        financials_data=row.financials_data,
        cross_check=row.cross_check,
        usage=Usage.model_validate(row.usage),
    )


def owned_by_job(owner: str, job_id: str) -> Select[Save]:
    return select(Save).where(Save.owner == owner, Save.job_id == job_id)


def _dialect_insert(session: AsyncSession) -> Any:
    return postgresql.insert if session.get_bind().dialect.name == "postgresql" else sqlite.insert


async def _insert_unless_job_exists(session: AsyncSession, values: dict[str, Any]) -> uuid.UUID | None:
    """INSERT … ON CONFLICT (job_id) DO NOTHING: a retried job can never race itself into two saves."""
    statement = (
        _dialect_insert(session)(Save)
        .values(values)
        .on_conflict_do_nothing(index_elements=[Save.job_id])
        .returning(Save.save_id)
    )
    inserted: uuid.UUID | None = (await session.execute(statement)).scalar_one_or_none()
    return inserted


async def _store_methodology(session: AsyncSession, version: str, content: str) -> None:
    """Versions are named by their content, so a version can only ever hold one text."""
    if version_of(content) != version:
        raise ApiError(422, "validation_error", "methodology_version does not match methodology_md")
    await session.execute(
        _dialect_insert(session)(Methodology)
        .values(version=version, content=content, created_at=utcnow())
        .on_conflict_do_nothing(index_elements=[Methodology.version])
    )


async def get_methodology(session: AsyncSession, version: str) -> MethodologyDoc:
    content = await session.scalar(select(Methodology.content).where(Methodology.version == version))
    if content is None:
        raise ApiError(404, "not_found", "no such methodology version")
    return MethodologyDoc(version=version, content=content)


async def upsert_from_job(session: AsyncSession, data: SaveCreate) -> UpsertResult:
    """Stores a finished job's estimate as revision 1; a second call for the same job changes nothing."""
    now = utcnow()
    totals = data.totals.model_dump(mode="json")
    await _store_methodology(session, data.methodology_version, data.methodology_md)
    save_id = await _insert_unless_job_exists(
        session,
        {
            "save_id": uuid.uuid4(),
            "owner": data.owner,
            "job_id": data.job_id,
            "name": data.name,
            "status": SAVE_STATUS_READY,
            "revision": 1,
            "github_url": data.github_url,
            "repository": data.repository.model_dump(mode="json") if data.repository else None,
            "requirements_md": data.requirements_md,
            "methodology_version": data.methodology_version,
            "report_markdown": data.report_markdown,
            "estimate_data": data.estimate_data,
            "financials_data": data.financials_data,
            "cross_check": data.cross_check,
            "totals": totals,
            "usage": data.usage.model_dump(mode="json"),
            "created_at": now,
            "updated_at": now,
        },
    )
    if save_id is not None:
        session.add(
            SaveRevision(
                save_id=save_id,
                revision=1,
                estimate_data=data.estimate_data,
                financials_data=data.financials_data,
                cross_check=data.cross_check,
                report_markdown=data.report_markdown,
                totals=totals,
                reason=INITIAL_REASON,
                created_at=now,
            )
        )
    row = (await session.scalars(select(Save).where(Save.job_id == data.job_id))).one()
    await session.commit()
    if row.owner != data.owner:
        raise ApiError(409, "conflict", "this job's save belongs to another owner")
    return UpsertResult(to_detail(row), created=save_id is not None)


async def list_saves(session: AsyncSession, owner: str, limit: int, cursor: str | None) -> SavePage:
    """Newest first, one indexed query per page: keyset on (updated_at, save_id), limit+1 rows to see
    whether a next page exists, so neither OFFSET nor COUNT ever scans the rows already shown."""
    query = (
        select(Save.save_id, Save.name, Save.status, Save.created_at, Save.updated_at, Save.totals)
        .where(Save.owner == owner)
        .order_by(Save.updated_at.desc(), Save.save_id.desc())
        .limit(limit + 1)
    )
    if cursor is not None:
        query = query.where(tuple_(Save.updated_at, Save.save_id) < tuple_(*decode_cursor(cursor)))
    rows = (await session.execute(query)).all()
    page = rows[:limit]
    next_cursor = encode_cursor(page[-1].updated_at, page[-1].save_id) if len(rows) > limit else None
    items = [
        SaveSummary(
            save_id=str(row.save_id),
            name=row.name,
            status=row.status,
            created_at=row.created_at,
            updated_at=row.updated_at,
            totals=Totals.model_validate(row.totals),
        )
        for row in page
    ]
    return SavePage(items=items, next_cursor=next_cursor)


async def _owned(session: AsyncSession, owner: str, save_id: str) -> Save:
    row = await session.scalar(select(Save).where(Save.owner == owner, Save.save_id == parse_save_id(save_id)))
    if row is None:
        raise not_found()
    return row


async def get_save(session: AsyncSession, owner: str, save_id: str) -> SaveDetail:
    return to_detail(await _owned(session, owner, save_id))


async def get_save_by_job(session: AsyncSession, owner: str, job_id: str) -> SaveDetail:
    row = await session.scalar(owned_by_job(owner, job_id))
    if row is None:
        raise not_found()
    return to_detail(row)


async def rename_save(session: AsyncSession, owner: str, save_id: str, rename: SaveRename) -> SaveDetail:
    """Renaming counts as activity: the save moves to the top of the listing."""
    row = await _owned(session, owner, save_id)
    row.name = rename.name
    row.updated_at = utcnow()
    await session.commit()
    return to_detail(row)


async def delete_save(session: AsyncSession, owner: str, save_id: str) -> str:
    """The database's ON DELETE CASCADE removes the revisions and chat with the save; returns its job id."""
    deleted = await session.scalar(
        delete(Save).where(Save.owner == owner, Save.save_id == parse_save_id(save_id)).returning(Save.job_id)
    )
    await session.commit()
    if deleted is None:
        raise not_found()
    return str(deleted)

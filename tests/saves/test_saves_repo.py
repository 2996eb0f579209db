"""Saves storage: idempotent writes from the worker, owner-scoped reads, keyset listing."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from services.saves import chat_repo, saves_repo
from services.saves.models import ChatMessageRow, Save, SaveRevision
from services.shared.contracts import SaveRename
from services.shared.errors import ApiError
from tests.saves.factories import chat_turn, new_owner, save_create


@contextmanager
def captured_statements(engine: AsyncEngine) -> Iterator[list[tuple[str, Any]]]:
    statements: list[tuple[str, Any]] = []

    def record(_conn: Any, _cursor: Any, statement: str, parameters: Any, *_: Any) -> None:
        statements.append((statement, parameters))

    event.listen(engine.sync_engine, "before_cursor_execute", record)
    try:
        yield statements
    finally:
        event.remove(engine.sync_engine, "before_cursor_execute", record)


async def _create_saves(session: AsyncSession, owner: str, count: int) -> list[str]:
    return [
        (await saves_repo.upsert_from_job(session, save_create(owner, name=f"save {i}"))).save.save_id
        for i in range(count)
    ]


async def test_upsert_twice_for_one_job_keeps_one_untouched_save(session: AsyncSession) -> None:
    owner = new_owner()
    first = await saves_repo.upsert_from_job(session, save_create(owner, job_id=f"job-{owner}"))
    retried = await saves_repo.upsert_from_job(
        session, save_create(owner, job_id=f"job-{owner}", name="renamed by a retry")
    )

    assert first.created and not retried.created
    assert retried.save == first.save
    assert first.save.revision == 1
    rows = await session.scalar(select(func.count()).select_from(Save).where(Save.job_id == f"job-{owner}"))
    revisions = await session.scalars(
        select(SaveRevision.revision).where(SaveRevision.save_id == uuid.UUID(first.save.save_id))
    )
    assert rows == 1
    assert list(revisions) == [1]


async def test_upsert_of_a_job_saved_by_someone_else_is_refused(session: AsyncSession) -> None:
    job_id = uuid.uuid4().hex
    await saves_repo.upsert_from_job(session, save_create(new_owner(), job_id=job_id))
    with pytest.raises(ApiError) as caught:
        await saves_repo.upsert_from_job(session, save_create(new_owner(), job_id=job_id))
    assert caught.value.status == 409


async def test_listing_pages_through_every_save_newest_first_without_duplicates(
    session: AsyncSession,
) -> None:
    owner = new_owner()
    created = await _create_saves(session, owner, 25)
    await _create_saves(session, new_owner(), 3)  # someone else's saves never show up

    pages = []
    cursor = None
    while True:
        page = await saves_repo.list_saves(session, owner, 10, cursor)
        pages.append([item.save_id for item in page.items])
        if page.next_cursor is None:
            break
        cursor = page.next_cursor

    assert [len(page) for page in pages] == [10, 10, 5]
    seen = [save_id for page in pages for save_id in page]
    assert seen == list(reversed(created))


async def test_saves_updated_at_the_same_instant_are_neither_skipped_nor_repeated(
    session: AsyncSession,
) -> None:
    owner = new_owner()
    created = await _create_saves(session, owner, 12)
    same_instant = datetime(2025, 6, 1, 9, 0, tzinfo=UTC)
    await session.execute(
        update(Save).where(Save.save_id.in_([uuid.UUID(s) for s in created[2:9]])).values(updated_at=same_instant)
    )
    await session.commit()

    seen: list[str] = []
    cursor = None
    for _ in range(4):
        page = await saves_repo.list_saves(session, owner, 3, cursor)
        seen += [item.save_id for item in page.items]
        cursor = page.next_cursor
    assert cursor is None
    assert sorted(seen) == sorted(created)
    tied = [s for s in seen if s in created[2:9]]
    assert tied == sorted(tied, reverse=True), "ties are broken by save_id, descending"


async def test_a_listing_page_is_one_indexed_sql_statement(
    engine: AsyncEngine, sessions: async_sessionmaker[AsyncSession]
) -> None:
    owner = new_owner()
    async with sessions() as session:
        await _create_saves(session, owner, 12)
        first = await saves_repo.list_saves(session, owner, 5, None)

    async with sessions() as session:
        with captured_statements(engine) as statements:
            await saves_repo.list_saves(session, owner, 5, first.next_cursor)

    assert len(statements) == 1
    sql, parameters = statements[0]
    assert "OFFSET" not in sql.upper() and "COUNT(" not in sql.upper()
    async with engine.connect() as connection:
        await connection.exec_driver_sql("SET enable_seqscan = off")
        plan = "\n".join(row[0] for row in await connection.exec_driver_sql("EXPLAIN " + sql, parameters))
    assert "ix_saves_owner_updated_at_save_id" in plan
    assert "Sort" not in plan, "the index already yields the page in order"


async def test_malformed_cursor_is_refused(session: AsyncSession) -> None:
    with pytest.raises(ApiError) as caught:
        await saves_repo.list_saves(session, new_owner(), 10, "garbage")
    assert (caught.value.status, caught.value.code) == (422, "invalid_cursor")


async def test_another_owner_sees_nothing_of_a_save(session: AsyncSession) -> None:
    owner, stranger = new_owner(), new_owner()
    save = (await saves_repo.upsert_from_job(session, save_create(owner))).save

    attempts = [
        saves_repo.get_save(session, stranger, save.save_id),
        saves_repo.get_save_by_job(session, stranger, save.job_id),
        saves_repo.rename_save(session, stranger, save.save_id, SaveRename(name="mine now")),
        saves_repo.delete_save(session, stranger, save.save_id),
        saves_repo.get_save(session, owner, "not-a-uuid"),
        saves_repo.get_save(session, owner, str(uuid.uuid4())),
    ]
    for attempt in attempts:
        with pytest.raises(ApiError) as caught:
            await attempt
        assert (caught.value.status, caught.value.code) == (404, "not_found")
    assert (await saves_repo.get_save(session, owner, save.save_id)).name == save.name


async def test_rename_changes_the_name_and_moves_the_save_to_the_top(session: AsyncSession) -> None:
    owner = new_owner()
    older, _newer = await _create_saves(session, owner, 2)

    renamed = await saves_repo.rename_save(session, owner, older, SaveRename(name="Webshop v2"))

    page = await saves_repo.list_saves(session, owner, 10, None)
    assert renamed.name == "Webshop v2"
    assert page.items[0].save_id == older
    assert page.items[0].name == "Webshop v2"


async def test_delete_removes_the_save_with_its_revisions_and_chat(session: AsyncSession) -> None:
    owner = new_owner()
    save = (await saves_repo.upsert_from_job(session, save_create(owner))).save
    await chat_repo.append_chat_turn(session, owner, save.job_id, chat_turn("cheaper?", "yes", 15000.0))

    await saves_repo.delete_save(session, owner, save.save_id)

    save_id = uuid.UUID(save.save_id)
    revisions = await session.scalar(
        select(func.count()).select_from(SaveRevision).where(SaveRevision.save_id == save_id)
    )
    messages = await session.scalar(
        select(func.count()).select_from(ChatMessageRow).where(ChatMessageRow.save_id == save_id)
    )
    assert (revisions, messages) == (0, 0)
    with pytest.raises(ApiError):
        await saves_repo.get_save(session, owner, save.save_id)


async def test_concurrent_retries_of_one_job_create_a_single_save(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    data = save_create(new_owner())

    async def upsert() -> saves_repo.UpsertResult:
        async with sessions() as session:
            return await saves_repo.upsert_from_job(session, data)

    results = await asyncio.gather(*(upsert() for _ in range(4)))

    assert sum(result.created for result in results) == 1
    assert len({result.save.save_id for result in results}) == 1

"""Chat turns: both messages are kept together, and a revision replaces the save's current estimate."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.saves import chat_repo, saves_repo
from services.saves.models import SaveRevision
from services.shared.errors import ApiError
from tests.saves.factories import chat_turn, new_owner, save_create


async def test_a_turn_with_a_revision_makes_it_the_current_estimate(session: AsyncSession) -> None:
    owner = new_owner()
    before = (await saves_repo.upsert_from_job(session, save_create(owner))).save

    after = await chat_repo.append_chat_turn(
        session, owner, before.job_id, chat_turn("Drop the admin UI?", "Done, it is cheaper.", 15000.0)
    )

    assert after.revision == 2
    assert after.updated_at > before.updated_at
    assert after.totals.price == 15000.0
    assert after.report_markdown == "# Report\nNow 15000.0 EUR."
    assert after == await saves_repo.get_save(session, owner, before.save_id)
    revisions = await session.execute(
        select(SaveRevision.revision, SaveRevision.reason)
        .where(SaveRevision.save_id == uuid.UUID(before.save_id))
        .order_by(SaveRevision.revision)
    )
    assert [tuple(row) for row in revisions] == [(1, "initial estimate"), (2, "Drop the admin UI?")]

    history = await chat_repo.chat_history(session, owner, before.job_id)
    assert [(m.role, m.content, m.revision) for m in history.messages] == [
        ("user", "Drop the admin UI?", 1),
        ("assistant", "Done, it is cheaper.", 2),
    ]


async def test_a_turn_without_a_revision_only_adds_to_the_conversation(session: AsyncSession) -> None:
    owner = new_owner()
    before = (await saves_repo.upsert_from_job(session, save_create(owner))).save

    after = await chat_repo.append_chat_turn(session, owner, before.job_id, chat_turn("Why 120 h?", "Because."))

    assert (after.revision, after.updated_at, after.totals) == (1, before.updated_at, before.totals)
    history = await chat_repo.chat_history(session, owner, before.job_id)
    assert [(m.role, m.revision) for m in history.messages] == [("user", 1), ("assistant", 1)]


async def test_history_lists_turns_oldest_first(session: AsyncSession) -> None:
    owner = new_owner()
    save = (await saves_repo.upsert_from_job(session, save_create(owner))).save
    for n in range(3):
        await chat_repo.append_chat_turn(session, owner, save.job_id, chat_turn(f"q{n}", f"a{n}", 1000.0 * n))

    history = await chat_repo.chat_history(session, owner, save.job_id)

    assert (history.job_id, history.save_id) == (save.job_id, save.save_id)
    assert [m.content for m in history.messages] == ["q0", "a0", "q1", "a1", "q2", "a2"]
    assert [m.revision for m in history.messages] == [1, 2, 2, 3, 3, 4]


async def test_another_owner_cannot_read_or_extend_a_chat(session: AsyncSession) -> None:
    save = (await saves_repo.upsert_from_job(session, save_create(new_owner()))).save
    stranger = new_owner()
    with pytest.raises(ApiError) as read:
        await chat_repo.chat_history(session, stranger, save.job_id)
    with pytest.raises(ApiError) as write:
        await chat_repo.append_chat_turn(session, stranger, save.job_id, chat_turn("hi", "hello", 1.0))
    assert read.value.status == write.value.status == 404


async def test_concurrent_revising_turns_each_get_their_own_revision(
    sessions: async_sessionmaker[AsyncSession],
) -> None:
    owner = new_owner()
    async with sessions() as session:
        save = (await saves_repo.upsert_from_job(session, save_create(owner))).save

    async def turn(price: float) -> int:
        async with sessions() as session:
            result = await chat_repo.append_chat_turn(session, owner, save.job_id, chat_turn("?", "!", price))
            return result.revision

    revisions = await asyncio.gather(turn(1000.0), turn(2000.0), turn(3000.0))

    assert sorted(revisions) == [2, 3, 4]
    async with sessions() as session:
        assert (await saves_repo.get_save(session, owner, save.save_id)).revision == 4

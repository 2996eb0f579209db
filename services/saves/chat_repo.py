"""Chat turns on a save: both messages, and any revision they produced, land in one transaction."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.saves.models import ChatMessageRow, Save, SaveRevision, utcnow
from services.saves.saves_repo import not_found, owned_by_job, to_detail
from services.shared.contracts import ChatHistory, ChatMessage, ChatMessageIn, ChatTurnCreate, SaveDetail
from services.shared.errors import ApiError


def _message(save: Save, message: ChatMessageIn, revision: int) -> ChatMessageRow:
    return ChatMessageRow(
        save_id=save.save_id,
        role=message.role,
        content=message.content,
        revision=revision,
        usage=message.usage.model_dump(mode="json") if message.usage is not None else None,
    )


async def append_chat_turn(session: AsyncSession, owner: str, job_id: str, turn: ChatTurnCreate) -> SaveDetail:
    """Stores a turn; with a revision, it becomes the save's current data as revision N+1.

    The save row is locked (FOR UPDATE; a no-op on SQLite, whose writers are serialised anyway) so two
    concurrent turns cannot both claim revision N+1. The revision each message carries is decided here,
    under that lock: the user spoke at revision N, the assistant's reply is at the revision it produced.
    """
    save = await session.scalar(owned_by_job(owner, job_id).with_for_update())
    if save is None:
        raise not_found()
    asked_at = save.revision
    if turn.revision is not None and turn.base_revision not in (None, asked_at):
        raise ApiError(
            409,
            "revision_conflict",
            f"the turn was built on revision {turn.base_revision}, but the save is at revision {asked_at}",
        )
    if turn.revision is not None:
        change = turn.revision
        totals = change.totals.model_dump(mode="json")
        save.revision = asked_at + 1
        save.estimate_data = change.estimate_data
        save.financials_data = change.financials_data
        save.cross_check = change.cross_check
        save.report_markdown = change.report_markdown
        save.totals = totals
        save.updated_at = utcnow()
        session.add(
            SaveRevision(
                save_id=save.save_id,
                revision=save.revision,
                estimate_data=change.estimate_data,
                financials_data=change.financials_data,
                cross_check=change.cross_check,
                report_markdown=change.report_markdown,
                totals=totals,
                reason=change.reason,
                operations=change.operations,
            )
        )
    # Added one after the other so the user message gets the smaller id, which is the history's order.
    session.add(_message(save, turn.user, asked_at))
    await session.flush()
    session.add(_message(save, turn.assistant, save.revision))
    await session.commit()
    return to_detail(save)


async def chat_history(session: AsyncSession, owner: str, job_id: str) -> ChatHistory:
    save = await session.scalar(owned_by_job(owner, job_id))
    if save is None:
        raise not_found()
    rows = await session.scalars(
        select(ChatMessageRow).where(ChatMessageRow.save_id == save.save_id).order_by(ChatMessageRow.id)
    )
    return ChatHistory(
        job_id=save.job_id,
        save_id=str(save.save_id),
        messages=[ChatMessage.model_validate(row, from_attributes=True) for row in rows],
    )

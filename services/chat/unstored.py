"""Chat turns Claude answered but the saves service could not store: kept in Redis, stored in the background.

A turn whose save write fails with a 5xx or no answer at all is not lost: its `ChatTurnCreate` is kept
with the turn's record (for `UNSTORED_TTL_S`, a day) and its id in a sorted set scored by when to retry.
Every chat replica claims the turns that are due (one replica at a time per turn; a claim lapses after
`CLAIM_S`, so a dead replica's turns are taken over) and writes them with full-jitter back-off until the
write succeeds. Before a retry, the save's history is read: if the turn is already there (a write that
committed but whose answer was lost), it is not written twice. A turn built on a revision the save has
moved past is stored without its change, with the same note a live turn gets; any other 4xx means it
can never be stored, and it is logged and dropped.
"""

from __future__ import annotations

import asyncio
import logging

from services.chat.context import ChatContext
from services.chat.conversation import with_conflict_note
from services.chat.turns import TurnRecord
from services.shared.backoff import full_jitter, is_retryable
from services.shared.contracts import ChatTurnCreate, ErrorInfo
from services.shared.errors import ApiError

log = logging.getLogger(__name__)

POLL_S = 1.0
CLAIM_S = 60.0
BASE_S = 1.0
CAP_S = 30.0


def first_retry_s() -> float:
    return full_jitter(0, BASE_S, CAP_S)


async def _already_stored(context: ChatContext, record: TurnRecord, turn: ChatTurnCreate) -> int | None:
    """The save's revision if the turn's two messages already end its history (a write whose answer was lost)."""
    history = await context.saves.chat_history(record.owner, record.job_id)
    last = history.messages[-2:]
    if [(m.role, m.content) for m in last] == [("user", turn.user.content), ("assistant", turn.assistant.content)]:
        return last[-1].revision
    return None


async def store_one(context: ChatContext, turn_id: str) -> bool:
    """One try at storing a kept turn; True when it is stored (or can never be, and was dropped)."""
    turns = context.turns
    record = await turns.record(turn_id)
    if record is None or record.unstored is None or record.reply is None:
        await turns.forget_unstored(record, turn_id)
        return True
    turn = record.unstored
    try:
        revision = await _already_stored(context, record, turn)
        if revision is None:
            revision = (await context.saves.append_chat_turn(record.owner, record.job_id, turn)).revision
    except ApiError as exc:
        if exc.code == "revision_conflict" and turn.revision is not None:
            reply = with_conflict_note(turn.assistant.content, turn.user.revision)
            assistant = turn.assistant.model_copy(update={"content": reply, "revision": turn.user.revision})
            record.unstored = turn.model_copy(update={"assistant": assistant, "revision": None})
            record.reply = record.reply.model_copy(
                update={"reply": reply, "revision": turn.user.revision, "revised": False}
            )
            await turns.retry_later(record, 0)
            return False
        if not is_retryable(exc):
            log.error("chat turn %s of job %s can never be stored (%s): dropped", turn_id, record.job_id, exc.code)
            record.state, record.error = "failed", ErrorInfo(code=exc.code, message=exc.message)
            await turns.forget_unstored(record, turn_id)
            return True
        record.attempts += 1
        delay = full_jitter(record.attempts, BASE_S, CAP_S)
        log.warning(
            "chat turn %s still not stored (%s), try %d, next in %.1f s", turn_id, exc.code, record.attempts, delay
        )
        await turns.retry_later(record, delay)
        return False
    record.reply = record.reply.model_copy(update={"stored": True, "revision": revision})
    await turns.forget_unstored(record, turn_id)
    log.info("chat turn %s of job %s stored after %d retries", turn_id, record.job_id, record.attempts)
    return True


async def store_unstored_turns(context: ChatContext) -> None:
    """Runs for the life of the process: stores the kept turns that are due."""
    while True:
        try:
            for turn_id in await context.turns.claim_due(CLAIM_S):
                await store_one(context, turn_id)
        except asyncio.CancelledError:
            raise
        except Exception:
            log.exception("storing kept chat turns failed; trying again")
        await asyncio.sleep(POLL_S)

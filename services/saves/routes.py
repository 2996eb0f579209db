"""Internal HTTP routes of the saves service; the gateway, worker and chat service are its only callers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from services.saves import chat_repo, keys, saves_repo
from services.saves.session import DbSession
from services.shared.contracts import (
    ChatHistory,
    ChatTurnCreate,
    SaveCreate,
    SaveDetail,
    SavePage,
    SaveRename,
)
from services.shared.errors import ApiError
from services.shared.internal import InternalAuth, Owner

router = APIRouter(prefix="/internal", dependencies=[InternalAuth])


def as_json(model: BaseModel) -> Response:
    """Serialised by pydantic's own encoder: reads are the saves service's hot path, and a save is large."""
    return Response(model.model_dump_json(), media_type="application/json")


class KeyLookup(BaseModel):
    key_hash: str = Field(min_length=64, max_length=64)


class KeyOwner(BaseModel):
    owner: str


@router.post("/keys/lookup")
async def lookup_key(body: KeyLookup, session: DbSession) -> KeyOwner:
    owner = await keys.owner_for_hash(session, body.key_hash)
    if owner is None:
        raise ApiError(404, "not_found", "unknown or revoked key")
    return KeyOwner(owner=owner)


@router.put("/saves/by-job/{job_id}")
async def upsert_save(
    job_id: str, body: SaveCreate, owner: Owner, session: DbSession, response: Response
) -> SaveDetail:
    if body.owner != owner or body.job_id != job_id:
        raise ApiError(422, "validation_error", "the body's owner and job_id must match the request's")
    result = await saves_repo.upsert_from_job(session, body)
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return result.save


@router.get("/saves", response_model=SavePage)
async def list_saves(
    owner: Owner,
    session: DbSession,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=200)] = None,
) -> Response:
    return as_json(await saves_repo.list_saves(session, owner, limit, cursor))


@router.get("/saves/by-job/{job_id}", response_model=SaveDetail)
async def get_save_by_job(job_id: str, owner: Owner, session: DbSession) -> Response:
    return as_json(await saves_repo.get_save_by_job(session, owner, job_id))


@router.get("/saves/by-job/{job_id}/chat", response_model=ChatHistory)
async def chat_history(job_id: str, owner: Owner, session: DbSession) -> Response:
    return as_json(await chat_repo.chat_history(session, owner, job_id))


@router.post("/saves/by-job/{job_id}/chat")
async def append_chat_turn(job_id: str, body: ChatTurnCreate, owner: Owner, session: DbSession) -> SaveDetail:
    return await chat_repo.append_chat_turn(session, owner, job_id, body)


@router.get("/saves/{save_id}", response_model=SaveDetail)
async def get_save(save_id: str, owner: Owner, session: DbSession) -> Response:
    return as_json(await saves_repo.get_save(session, owner, save_id))


@router.patch("/saves/{save_id}")
async def rename_save(save_id: str, body: SaveRename, owner: Owner, session: DbSession) -> SaveDetail:
    return await saves_repo.rename_save(session, owner, save_id, body)


@router.delete("/saves/{save_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_save(save_id: str, owner: Owner, session: DbSession) -> None:
    await saves_repo.delete_save(session, owner, save_id)

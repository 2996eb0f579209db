"""Internal HTTP routes of the saves service; the gateway, worker and chat service are its only callers."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response, status
from pydantic import BaseModel, Field

from services.saves import chat_repo, keys, revisions_repo, saves_repo
from services.saves.read_through import Reads, serve, writing
from services.saves.session import DbSession
from services.shared.contracts import (
    DEFAULT_PAGE,
    MAX_CURSOR,
    MAX_PAGE,
    MAX_REVISION,
    ChatHistory,
    ChatTurnCreate,
    Methodology,
    RevisionDetail,
    RevisionDiff,
    RevisionPage,
    SaveCreate,
    SaveDetail,
    SavePage,
    SaveRename,
)
from services.shared.errors import ApiError
from services.shared.internal import InternalAuth, Owner
from services.shared.read_model import (
    LISTING,
    chat_view,
    job_scope,
    list_view,
    revision_diff_view,
    revision_view,
    revisions_view,
    save_scope,
    save_view,
)

router = APIRouter(prefix="/internal", dependencies=[InternalAuth])


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
    job_id: str, body: SaveCreate, owner: Owner, session: DbSession, reads: Reads, response: Response
) -> SaveDetail:
    if body.owner != owner or body.job_id != job_id:
        raise ApiError(422, "validation_error", "the body's owner and job_id must match the request's")
    async with writing(reads, owner) as changes:
        result = await saves_repo.upsert_from_job(session, body)
        if result.created:
            changes.touch(LISTING)
    response.status_code = status.HTTP_201_CREATED if result.created else status.HTTP_200_OK
    return result.save


@router.get("/saves", response_model=SavePage)
async def list_saves(
    owner: Owner,
    session: DbSession,
    reads: Reads,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> Response:
    return await serve(
        reads, owner, list_view(limit, cursor), lambda: saves_repo.list_saves(session, owner, limit, cursor)
    )


@router.get("/saves/by-job/{job_id}", response_model=SaveDetail)
async def get_save_by_job(job_id: str, owner: Owner, session: DbSession) -> Response:
    save = await saves_repo.get_save_by_job(session, owner, job_id)
    return Response(save.model_dump_json(), media_type="application/json")


@router.get("/saves/by-job/{job_id}/chat", response_model=ChatHistory)
async def chat_history(job_id: str, owner: Owner, session: DbSession, reads: Reads) -> Response:
    return await serve(reads, owner, chat_view(job_id), lambda: chat_repo.chat_history(session, owner, job_id))


@router.post("/saves/by-job/{job_id}/chat")
async def append_chat_turn(
    job_id: str, body: ChatTurnCreate, owner: Owner, session: DbSession, reads: Reads
) -> SaveDetail:
    async with writing(reads, owner) as changes:
        save = await chat_repo.append_chat_turn(session, owner, job_id, body)
        changes.touch(job_scope(job_id))
        if body.revision is not None:
            changes.touch(LISTING, save_scope(save.save_id))
        return save


@router.get("/saves/{save_id}", response_model=SaveDetail)
async def get_save(save_id: str, owner: Owner, session: DbSession, reads: Reads) -> Response:
    save_id = saves_repo.canonical_save_id(save_id)
    return await serve(reads, owner, save_view(save_id), lambda: saves_repo.get_save(session, owner, save_id))


@router.get("/saves/{save_id}/revisions", response_model=RevisionPage)
async def list_revisions(
    save_id: str,
    owner: Owner,
    session: DbSession,
    reads: Reads,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> Response:
    save_id = saves_repo.canonical_save_id(save_id)
    return await serve(
        reads,
        owner,
        revisions_view(save_id, limit, cursor),
        lambda: revisions_repo.list_revisions(session, owner, save_id, limit, cursor),
    )


@router.get("/saves/{save_id}/revisions/{revision}", response_model=RevisionDetail)
async def get_revision(save_id: str, revision: str, owner: Owner, session: DbSession, reads: Reads) -> Response:
    save_id, number = saves_repo.canonical_save_id(save_id), revisions_repo.parse_revision(revision)
    return await serve(
        reads,
        owner,
        revision_view(save_id, number),
        lambda: revisions_repo.get_revision(session, owner, save_id, number),
    )


@router.get("/saves/{save_id}/revisions/{revision}/diff", response_model=RevisionDiff)
async def diff_revisions(
    save_id: str,
    revision: str,
    against: Annotated[int, Query(ge=1, le=MAX_REVISION)],
    owner: Owner,
    session: DbSession,
    reads: Reads,
) -> Response:
    """From revision `against` to `revision`; the public route chooses `against` when the user does not."""
    save_id, number = saves_repo.canonical_save_id(save_id), revisions_repo.parse_revision(revision)
    return await serve(
        reads,
        owner,
        revision_diff_view(save_id, number, against),
        lambda: revisions_repo.diff_revisions(session, owner, save_id, number, against),
    )


@router.patch("/saves/{save_id}")
async def rename_save(save_id: str, body: SaveRename, owner: Owner, session: DbSession, reads: Reads) -> SaveDetail:
    async with writing(reads, owner) as changes:
        save = await saves_repo.rename_save(session, owner, save_id, body)
        changes.touch(LISTING, save_scope(save.save_id))
        return save


@router.delete("/saves/{save_id}", status_code=status.HTTP_204_NO_CONTENT)
async def delete_save(save_id: str, owner: Owner, session: DbSession, reads: Reads) -> None:
    save_id = saves_repo.canonical_save_id(save_id)
    async with writing(reads, owner) as changes:
        job_id = await saves_repo.delete_save(session, owner, save_id)
        changes.touch(LISTING, save_scope(save_id), job_scope(job_id))


@router.get("/methodologies/{version}")
async def get_methodology(version: str, session: DbSession) -> Methodology:
    """Not owned: the methodology is the same document for everyone who was estimated with it."""
    return await saves_repo.get_methodology(session, version)

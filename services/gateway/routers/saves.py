"""Browsing, renaming and deleting saved estimates, and reading and comparing their revisions.

Reads are served from the read model in Redis (`services.shared.read_model`) when it holds them, and
from the saves service otherwise, which leaves its answer there for the next read. Every read carries
an ETag; `If-None-Match` with the current one is answered 304 without a body. Writes go to the saves
service, which moves the owner's read model on. A revision, and the diff of two, never changes: clients
may keep them without revalidating.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

import httpx
from fastapi import APIRouter, Header, Path, Query, Response

from services.gateway.auth import CurrentOwner
from services.gateway.schemas import error_responses, known_id, revision_of, save_id_of
from services.gateway.state import GatewayState, State
from services.shared.contracts import (
    DEFAULT_PAGE,
    MAX_CURSOR,
    MAX_PAGE,
    MAX_REVISION,
    RevisionDetail,
    RevisionDiff,
    RevisionPage,
    SaveDetail,
    SavePage,
    SaveRename,
    SaveWithMethodology,
)
from services.shared.errors import ApiError
from services.shared.read_model import (
    Entry,
    View,
    etag_of,
    list_view,
    revision_diff_view,
    revision_view,
    revisions_view,
    save_view,
)

router = APIRouter(prefix="/api/saves", tags=["saves"])
REVALIDATE = "private, no-cache"
"""Answers are per user and change with every write: a client may keep them but must revalidate."""
IMMUTABLE = "private, max-age=31536000, immutable"
"""Answers that never change once they exist (a revision, a methodology version): no need to revalidate."""


def relay(answer: httpx.Response) -> Response:
    """The saves service's JSON as is: validated where it was made, not parsed and rebuilt here again."""
    return Response(answer.content, status_code=answer.status_code, media_type="application/json")


async def cached_read(
    state: GatewayState, owner: str, view: View, path: str, params: dict[str, Any] | None = None
) -> Entry:
    generation, entry = await state.reads.get(owner, view)
    if entry is not None:
        return entry

    async def from_saves() -> Entry:
        answer = await state.saves.request("GET", path, owner, params=params)
        body = answer.content.decode()
        return Entry(answer.headers.get("etag") or etag_of(body), body)

    return await state.misses.do(f"{owner}\0{view.scope}\0{generation}\0{view.name}", from_saves)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    tags = {tag.strip().removeprefix("W/") for tag in if_none_match.split(",")}
    return "*" in tags or etag in tags


def conditional(entry: Entry, if_none_match: str | None, cache_control: str = REVALIDATE) -> Response:
    headers = {"ETag": entry.etag, "Cache-Control": cache_control}
    if _matches(if_none_match, entry.etag):
        return Response(status_code=304, headers=headers)
    return Response(entry.body, media_type="application/json", headers=headers)


MAX_IF_NONE_MATCH = 1000
IfNoneMatch = Annotated[str | None, Header(alias="If-None-Match", max_length=MAX_IF_NONE_MATCH)]
NOT_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "The ETag in `If-None-Match` is still current."}}
NEVER_MODIFIED: dict[int | str, dict[str, Any]] = {304: {"description": "Not modified (it never is)."}}
RevisionNumber = Annotated[str, Path(description="A revision number: 1, 2, …; anything else names no revision (404).")]


@router.get(
    "",
    response_model=SavePage,
    responses={**NOT_MODIFIED, **error_responses(401, 422, 503)},
    summary="List saves, newest first",
)
async def list_saves(
    owner: CurrentOwner,
    state: State,
    if_none_match: IfNoneMatch = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> Response:
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    entry = await cached_read(state, owner, list_view(limit, cursor), "/internal/saves", params)
    return conditional(entry, if_none_match)


@router.get(
    "/{save_id}",
    response_model=SaveDetail | SaveWithMethodology,
    responses={**NOT_MODIFIED, **error_responses(401, 404, 503)},
    summary="One save at its current revision",
    description="The methodology it was estimated with is referred to by `methodology_version` "
    "(`GET /api/methodology/{version}`); `?include=methodology` inlines it as `methodology_md`.",
)
async def get_save(
    save_id: str,
    owner: CurrentOwner,
    state: State,
    if_none_match: IfNoneMatch = None,
    include: Annotated[Literal["methodology"] | None, Query()] = None,
) -> Response:
    save_id = save_id_of(save_id)
    entry = await cached_read(state, owner, save_view(save_id), f"/internal/saves/{save_id}")
    if include == "methodology":
        save = SaveDetail.model_validate_json(entry.body)
        methodology = await state.saves.methodology(save.methodology_version)
        body = SaveWithMethodology(**save.model_dump(), methodology_md=methodology.content).model_dump_json()
        entry = Entry(etag_of(body), body)
    return conditional(entry, if_none_match)


@router.get(
    "/{save_id}/revisions",
    response_model=RevisionPage,
    responses={**NOT_MODIFIED, **error_responses(401, 404, 422, 503)},
    summary="The revisions of a save, newest first",
    description="Each revision's number, reason, time, totals and number of edit operations, without its data. "
    "`limit` and `cursor` page them as they page `GET /api/saves`.",
)
async def list_revisions(
    save_id: str,
    owner: CurrentOwner,
    state: State,
    if_none_match: IfNoneMatch = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = DEFAULT_PAGE,
    cursor: Annotated[str | None, Query(max_length=MAX_CURSOR)] = None,
) -> Response:
    save_id = save_id_of(save_id)
    params: dict[str, Any] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    path = f"/internal/saves/{save_id}/revisions"
    entry = await cached_read(state, owner, revisions_view(save_id, limit, cursor), path, params)
    return conditional(entry, if_none_match)


@router.get(
    "/{save_id}/revisions/{revision}",
    response_model=RevisionDetail,
    responses={**NEVER_MODIFIED, **error_responses(401, 404, 503)},
    summary="One revision of a save, in full",
    description="A revision never changes: it is served with `Cache-Control: private, max-age=31536000, immutable`.",
)
async def get_revision(
    save_id: str, revision: RevisionNumber, owner: CurrentOwner, state: State, if_none_match: IfNoneMatch = None
) -> Response:
    save_id, number = save_id_of(save_id), revision_of(revision)
    path = f"/internal/saves/{save_id}/revisions/{number}"
    entry = await cached_read(state, owner, revision_view(save_id, number), path)
    return conditional(entry, if_none_match, IMMUTABLE)


@router.get(
    "/{save_id}/revisions/{revision}/diff",
    response_model=RevisionDiff,
    responses={**NEVER_MODIFIED, **error_responses(401, 404, 422, 503)},
    summary="What changed between two revisions of a save",
    description="From revision `against` (by default the one before) to `revision`: work items added, removed "
    "and changed (by id), risks and notes added and removed, and the change (to - from) in expected hours, "
    "cost and price. Two revisions never change, so neither does their diff.",
)
async def diff_revisions(
    save_id: str,
    revision: RevisionNumber,
    owner: CurrentOwner,
    state: State,
    if_none_match: IfNoneMatch = None,
    against: Annotated[
        int | None, Query(ge=1, le=MAX_REVISION, description="The revision to compare with; by default revision - 1.")
    ] = None,
) -> Response:
    save_id, number = save_id_of(save_id), revision_of(revision)
    if against is None:
        if number == 1:
            raise ApiError(404, "not_found", "revision 1 has no revision before it; pass ?against=")
        against = number - 1
    path = f"/internal/saves/{save_id}/revisions/{number}/diff"
    entry = await cached_read(state, owner, revision_diff_view(save_id, number, against), path, {"against": against})
    return conditional(entry, if_none_match, IMMUTABLE)


@router.patch("/{save_id}", response_model=SaveDetail, responses=error_responses(401, 404, 422, 503))
async def rename_save(save_id: str, body: SaveRename, owner: CurrentOwner, state: State) -> Response:
    return relay(
        await state.saves.request("PATCH", f"/internal/saves/{known_id(save_id)}", owner, json=body.model_dump())
    )


@router.delete("/{save_id}", status_code=204, responses=error_responses(401, 404, 503))
async def delete_save(save_id: str, owner: CurrentOwner, state: State) -> Response:
    await state.saves.request("DELETE", f"/internal/saves/{known_id(save_id)}", owner)
    return Response(status_code=204)

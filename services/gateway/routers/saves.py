"""Browsing, renaming and deleting saved estimates (forwarded to the saves service with the owner)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from services.gateway.auth import CurrentOwner
from services.gateway.schemas import error_responses
from services.gateway.state import State
from services.shared.contracts import SaveDetail, SavePage, SaveRename

router = APIRouter(prefix="/api/saves", tags=["saves"])


@router.get("", response_model=SavePage, responses=error_responses(401, 422, 503), summary="List saves, newest first")
async def list_saves(
    owner: CurrentOwner,
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> SavePage:
    return await state.saves.list_saves(owner, limit, cursor)


@router.get("/{save_id}", response_model=SaveDetail, responses=error_responses(401, 404, 503))
async def get_save(save_id: str, owner: CurrentOwner, state: State) -> SaveDetail:
    return await state.saves.get_save(owner, save_id)


@router.patch("/{save_id}", response_model=SaveDetail, responses=error_responses(401, 404, 422, 503))
async def rename_save(save_id: str, body: SaveRename, owner: CurrentOwner, state: State) -> SaveDetail:
    return await state.saves.rename_save(owner, save_id, body)


@router.delete("/{save_id}", status_code=204, responses=error_responses(401, 404, 503))
async def delete_save(save_id: str, owner: CurrentOwner, state: State) -> Response:
    await state.saves.delete_save(owner, save_id)
    return Response(status_code=204)

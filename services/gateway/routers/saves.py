"""Browsing, renaming and deleting saved estimates (forwarded to the saves service with the owner)."""

from __future__ import annotations

from typing import Annotated

import httpx
from fastapi import APIRouter, Query, Response

from services.gateway.auth import CurrentOwner
from services.gateway.schemas import error_responses, known_id
from services.gateway.state import State
from services.shared.contracts import SaveDetail, SavePage, SaveRename

router = APIRouter(prefix="/api/saves", tags=["saves"])


def relay(answer: httpx.Response) -> Response:
    """The saves service's JSON as is: validated where it was made, not parsed and rebuilt here again."""
    return Response(answer.content, status_code=answer.status_code, media_type="application/json")


@router.get("", response_model=SavePage, responses=error_responses(401, 422, 503), summary="List saves, newest first")
async def list_saves(
    owner: CurrentOwner,
    state: State,
    limit: Annotated[int, Query(ge=1, le=100)] = 20,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> Response:
    params: dict[str, str | int] = {"limit": limit} | ({"cursor": cursor} if cursor else {})
    return relay(await state.saves.request("GET", "/internal/saves", owner, params=params))


@router.get("/{save_id}", response_model=SaveDetail, responses=error_responses(401, 404, 503))
async def get_save(save_id: str, owner: CurrentOwner, state: State) -> Response:
    return relay(await state.saves.request("GET", f"/internal/saves/{known_id(save_id)}", owner))


@router.patch("/{save_id}", response_model=SaveDetail, responses=error_responses(401, 404, 422, 503))
async def rename_save(save_id: str, body: SaveRename, owner: CurrentOwner, state: State) -> Response:
    return relay(
        await state.saves.request("PATCH", f"/internal/saves/{known_id(save_id)}", owner, json=body.model_dump())
    )


@router.delete("/{save_id}", status_code=204, responses=error_responses(401, 404, 503))
async def delete_save(save_id: str, owner: CurrentOwner, state: State) -> Response:
    await state.saves.request("DELETE", f"/internal/saves/{known_id(save_id)}", owner)
    return Response(status_code=204)

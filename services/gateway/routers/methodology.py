"""The estimation methodology each save refers to by version: a document that never changes once published."""

from __future__ import annotations

import re

from fastapi import APIRouter, Response

from services.gateway.auth import CurrentOwner
from services.gateway.routers.saves import IMMUTABLE, IfNoneMatch, conditional
from services.gateway.schemas import error_responses
from services.gateway.state import State
from services.shared.contracts import Methodology
from services.shared.errors import ApiError
from services.shared.read_model import Entry

router = APIRouter(prefix="/api/methodology", tags=["saves"])
VERSION = re.compile(r"[0-9a-f]{1,64}")


@router.get(
    "/{version}",
    response_model=Methodology,
    responses={304: {"description": "Not modified (a version never is)."}, **error_responses(401, 404, 503)},
    summary="The methodology document of one version",
)
async def get_methodology(version: str, _: CurrentOwner, state: State, if_none_match: IfNoneMatch = None) -> Response:
    if not VERSION.fullmatch(version):
        raise ApiError(404, "not_found", "no such methodology version")
    methodology = await state.saves.methodology(version)
    return conditional(Entry(f'"{methodology.version}"', methodology.model_dump_json()), if_none_match, IMMUTABLE)

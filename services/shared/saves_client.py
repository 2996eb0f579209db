"""Typed calls to the saves service, the only holder of database connections.

Errors the saves service answers with keep their envelope (a 404 stays a 404 for the user); an
unreachable saves service becomes a 503 `dependency_unavailable`.
"""

from __future__ import annotations

import logging
from typing import Any, TypeVar

import httpx
from pydantic import BaseModel

from services.estimation.methodology import METHODOLOGY_VERSION, MODEL_DOCUMENT
from services.shared.contracts import (
    ChatHistory,
    ChatTurnCreate,
    Methodology,
    SaveCreate,
    SaveDetail,
)
from services.shared.errors import ApiError, error_from_response
from services.shared.internal import INTERNAL_KEEPALIVE_S, internal_headers
from services.shared.settings import SavesPeerSettings

M = TypeVar("M", bound=BaseModel)
log = logging.getLogger(__name__)
METHODOLOGIES_KEPT = 16


class SavesClient:
    def __init__(self, settings: SavesPeerSettings, transport: httpx.AsyncBaseTransport | None = None) -> None:
        self.settings = settings
        self.http = httpx.AsyncClient(
            base_url=settings.saves_url,
            timeout=httpx.Timeout(10.0, connect=3.0),
            # A small pool, all kept alive: the pool probes every idle connection on each request, and
            # reopening connections under load costs more still; saves answers in milliseconds.
            # Idle connections are dropped here before the server's keep-alive timeout closes them there,
            # so a request never goes out on a connection the server is closing (seen as ReadError).
            limits=httpx.Limits(
                max_connections=32, max_keepalive_connections=32, keepalive_expiry=INTERNAL_KEEPALIVE_S
            ),
            transport=transport,
        )
        # Versions are immutable, so a process keeps the few it has seen; the current one ships with the code.
        self.methodologies: dict[str, Methodology] = {
            METHODOLOGY_VERSION: Methodology(version=METHODOLOGY_VERSION, content=MODEL_DOCUMENT)
        }

    async def aclose(self) -> None:
        await self.http.aclose()

    async def request(self, method: str, path: str, owner: str | None, **kwargs: Any) -> httpx.Response:
        """The saves service's answer as it came; its errors raised as the same ApiError."""
        try:
            response = await self.http.request(method, path, headers=internal_headers(self.settings, owner), **kwargs)
        except httpx.InvalidURL as exc:
            # Only a path no record can have builds an invalid URL (ids are checked before they get here).
            raise ApiError(404, "not_found", "no such record") from exc
        except httpx.HTTPError as exc:
            log.warning("saves service call %s %s failed: %r", method, path, exc)
            raise ApiError(503, "dependency_unavailable", "the saves service is unavailable") from exc
        if response.status_code >= 400:
            raise error_from_response(response, "saves")
        return response

    async def _model(self, model: type[M], method: str, path: str, owner: str | None, **kwargs: Any) -> M:
        response = await self.request(method, path, owner, **kwargs)
        return model.model_validate_json(response.content)

    async def owner_for_key_hash(self, key_hash: str) -> str | None:
        try:
            response = await self.request("POST", "/internal/keys/lookup", None, json={"key_hash": key_hash})
        except ApiError as exc:
            if exc.status == 404:
                return None
            raise
        return str(response.json()["owner"])

    async def methodology(self, version: str) -> Methodology:
        found = self.methodologies.get(version)
        if found is None:
            found = await self._model(Methodology, "GET", f"/internal/methodologies/{version}", None)
            if len(self.methodologies) < METHODOLOGIES_KEPT:
                self.methodologies[version] = found
        return found

    async def upsert_from_job(self, save: SaveCreate) -> SaveDetail:
        body = save.model_dump(mode="json")
        return await self._model(SaveDetail, "PUT", f"/internal/saves/by-job/{save.job_id}", save.owner, json=body)

    async def get_save_by_job(self, owner: str, job_id: str) -> SaveDetail:
        return await self._model(SaveDetail, "GET", f"/internal/saves/by-job/{job_id}", owner)

    async def chat_history(self, owner: str, job_id: str) -> ChatHistory:
        return await self._model(ChatHistory, "GET", f"/internal/saves/by-job/{job_id}/chat", owner)

    async def append_chat_turn(self, owner: str, job_id: str, turn: ChatTurnCreate) -> SaveDetail:
        return await self._model(
            SaveDetail,
            "POST",
            f"/internal/saves/by-job/{job_id}/chat",
            owner,
            json=turn.model_dump(mode="json"),
        )

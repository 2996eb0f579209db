"""The chat service's long-lived clients, opened in the lifespan and reached through a typed dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from anthropic import AsyncAnthropic
from fastapi import Depends, Request

from services.shared.claude import make_client
from services.shared.saves_client import SavesClient
from services.shared.settings import Settings


@dataclass
class ChatContext:
    settings: Settings
    claude: AsyncAnthropic
    saves: SavesClient

    @classmethod
    def open(cls, settings: Settings) -> ChatContext:
        return cls(settings=settings, claude=make_client(settings), saves=SavesClient(settings))

    async def close(self) -> None:
        await self.claude.close()
        await self.saves.aclose()


def get_context(request: Request) -> ChatContext:
    context: ChatContext = request.app.state.chat
    return context


Context = Annotated[ChatContext, Depends(get_context)]

"""The chat service's long-lived clients, opened in the lifespan and reached through a typed dependency."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import redis.asyncio as aioredis
from anthropic import AsyncAnthropic
from fastapi import Depends, Request

from services.chat.allowance import chat_allowance
from services.chat.settings import ChatSettings
from services.chat.turns import Turns
from services.llm.allowance import OutputAllowance
from services.llm.budget import FleetBudget
from services.llm.client import make_client
from services.shared.redis import make_redis
from services.shared.saves_client import SavesClient


@dataclass
class ChatContext:
    settings: ChatSettings
    claude: AsyncAnthropic
    saves: SavesClient
    redis: aioredis.Redis
    budget: FleetBudget
    allowance: OutputAllowance
    turns: Turns

    @classmethod
    def open(cls, settings: ChatSettings) -> ChatContext:
        redis = make_redis(settings.redis_url, settings.redis_max_connections)
        return cls(
            settings=settings,
            claude=make_client(settings),
            saves=SavesClient(settings),
            redis=redis,
            budget=FleetBudget(redis, settings),
            allowance=chat_allowance(redis, settings),
            turns=Turns(redis, settings.chat_key_prefix, settings.chat_turn_lease_s),
        )

    async def close(self) -> None:
        await self.claude.close()
        await self.saves.aclose()
        await self.redis.aclose()


async def get_context(request: Request) -> ChatContext:
    context: ChatContext = request.app.state.chat
    return context


Context = Annotated[ChatContext, Depends(get_context)]

"""The gateway's long-lived clients, opened in the lifespan and reached through typed dependencies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

import httpx
import redis.asyncio as aioredis
from arq.connections import ArqRedis
from fastapi import Depends, Request
from redis.commands.core import AsyncScript

from services.gateway.events import JobEventHub
from services.gateway.key_cache import KeyCache
from services.gateway.ratelimit import RateLimits
from services.gateway.settings import GatewaySettings
from services.gateway.single_flight import SingleFlight
from services.shared.jobs import JobStore
from services.shared.read_model import Entry, ReadModel
from services.shared.saves_client import SavesClient


@dataclass
class GatewayState:
    settings: GatewaySettings
    redis: aioredis.Redis
    store: JobStore
    queue: ArqRedis
    saves: SavesClient
    chat: httpx.AsyncClient
    hub: JobEventHub
    limits: RateLimits
    keys: KeyCache
    cache_owner: AsyncScript
    reads: ReadModel
    misses: SingleFlight[Entry]
    key_lookups: SingleFlight[str]


async def get_state(request: Request) -> GatewayState:
    """Async on purpose: a plain function dependency would be sent to the thread pool on every request."""
    state: GatewayState = request.app.state.gateway
    return state


State = Annotated[GatewayState, Depends(get_state)]

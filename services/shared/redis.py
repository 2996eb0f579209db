"""Redis connections: one client per process, plus the ARQ pool the gateway enqueues through."""

from __future__ import annotations

import redis.asyncio as aioredis
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings


def make_redis(url: str) -> aioredis.Redis:
    """A decoded-string client; health checks keep idle pooled connections from going stale behind NAT."""
    client: aioredis.Redis = aioredis.Redis.from_url(url, decode_responses=True, health_check_interval=30)
    return client


def arq_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def make_arq_pool(url: str) -> ArqRedis:
    return await create_pool(arq_settings(url))

"""Redis connections: one pool per process, plus the ARQ pool the gateway enqueues through.

Pools are `BlockingConnectionPool`s: redis-py 5's plain async pool holds one lock while it checks out
*and* health-checks a connection, which lines every command of a busy process up behind that lock
(redis/redis-py#3692; measured here: status p50 660 ms vs 146 ms at 1000 users). The blocking pool
checks connections outside its lock, and bounds them.
"""

from __future__ import annotations

import redis.asyncio as aioredis
from arq import create_pool
from arq.connections import ArqRedis, RedisSettings

POOL_TIMEOUT_S = 5.0
KEY_PREFIX = "estimator"
"""Every key and channel the product uses in Redis starts with this, so they can be told from others'."""


def make_pool(url: str, max_connections: int, decode_responses: bool = True) -> aioredis.BlockingConnectionPool:
    pool: aioredis.BlockingConnectionPool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=max_connections,
        timeout=POOL_TIMEOUT_S,
        decode_responses=decode_responses,
        health_check_interval=30,
    )
    return pool


def make_redis(url: str, max_connections: int = 200) -> aioredis.Redis:
    """A decoded-string client; health checks keep idle pooled connections from going stale behind NAT."""
    return aioredis.Redis(connection_pool=make_pool(url, max_connections))


def arq_settings(url: str) -> RedisSettings:
    return RedisSettings.from_dsn(url)


async def make_arq_pool(url: str) -> ArqRedis:
    return await create_pool(arq_settings(url))

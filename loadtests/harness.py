"""What every benchmark needs: an isolated Redis DB and PostgreSQL database, and a machine description.

Benchmarks run on shared, noisy machines, so each report says which machine it ran on and how busy it
was, and compares against a baseline measured in the same run.
"""

from __future__ import annotations

import os
import platform
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import asyncpg
import redis.asyncio as aioredis

from services.devstack.isolation import CLAIM_TTL_S, DB_NUMBERS, claim_key

REDIS_BASE = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379")
PG_ADMIN_DSN = os.environ.get("BENCH_PG_ADMIN_DSN", "postgresql://postgres@127.0.0.1:5432/postgres")


@asynccontextmanager
async def isolated_stores() -> AsyncIterator[tuple[str, str]]:
    """A Redis DB number nobody else holds and a fresh PostgreSQL database, both removed afterwards."""
    admin = aioredis.Redis.from_url(f"{REDIS_BASE}/0")
    db = None
    for number in reversed(DB_NUMBERS):
        if await admin.set(claim_key(number), os.getpid(), nx=True, ex=CLAIM_TTL_S):
            db = number
            break
    if db is None:
        raise RuntimeError("no free Redis database number")
    name = f"estimator_bench_{uuid.uuid4().hex[:10]}"
    pg = await asyncpg.connect(PG_ADMIN_DSN)
    await pg.execute(f'CREATE DATABASE "{name}"')
    await pg.close()
    redis_url = f"{REDIS_BASE}/{db}"
    data = aioredis.Redis.from_url(redis_url)
    await data.flushdb()
    try:
        yield redis_url, f"{PG_ADMIN_DSN.rsplit('/', 1)[0].replace('postgresql://', 'postgresql+asyncpg://')}/{name}"
    finally:
        await data.flushdb()
        await data.aclose()
        await admin.delete(claim_key(db))
        await admin.aclose()
        pg = await asyncpg.connect(PG_ADMIN_DSN)
        await pg.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await pg.close()


def machine() -> str:
    cpu = "unknown CPU"
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
    return f"{platform.node()} — {os.cpu_count()} cores, {cpu}, Python {platform.python_version()}, load {load}"

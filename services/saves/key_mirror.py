"""The mirror of API keys in Redis, kept by the saves side so that gateways authenticate without it.

Written when a key is created (`estimator keys create`), set to REVOKED when it is revoked (in the same
Redis transaction as the revocation's announcement, `services/shared/apikeys.py`), and made whole again by
`resync` each time a saves replica starts: every valid key's owner is written (unless revoked meanwhile),
every revoked key is written as REVOKED (a revocation made while Redis was unreachable), and entries for
keys the database does not have are deleted. Between starts, `carry_revocations` announces every few
seconds the keys the database revoked lately, so a revocation made while Redis was down (the command
could only write the database) reaches every gateway within seconds of Redis coming back.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta

import redis.asyncio as aioredis
from redis.exceptions import RedisError
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.saves.models import ApiKey
from services.shared.apikeys import (
    AUTH_MIRROR_PREFIX,
    REVOKED,
    announce_revocations,
    auth_mirror_key,
    mirror_owners,
)

log = logging.getLogger(__name__)

BATCH = 500
# A revocation is announced again for this long after it is first seen: a pass that failed, or a clock
# that differs between the revoking host and this one, cannot make it missed.
REANNOUNCE_S = 120
# Longer than the gateways' default AUTH_CACHE_TTL_S (60 s) plus a lookup in flight.
REVOKED_MARKER_TTL_S = 120


async def owners(session: AsyncSession, key_hashes: list[str] | None = None) -> dict[str, str]:
    """{key hash: owner, or REVOKED} of every key, or of those among `key_hashes`."""
    query = select(ApiKey.key_hash, ApiKey.owner, ApiKey.revoked_at)
    if key_hashes is not None:
        query = query.where(ApiKey.key_hash.in_(key_hashes))
    rows = (await session.execute(query)).all()
    return {key_hash: owner if revoked_at is None else REVOKED for key_hash, owner, revoked_at in rows}


async def resync(sessionmaker: async_sessionmaker[AsyncSession], redis: aioredis.Redis) -> tuple[int, int]:
    """Makes the mirror say what the database says; returns (keys written, stale keys deleted)."""
    async with sessionmaker() as session:
        known = await owners(session)
    valid = [(key_hash, owner) for key_hash, owner in known.items() if owner != REVOKED]
    revoked = [key_hash for key_hash, owner in known.items() if owner == REVOKED]
    written = 0
    for start in range(0, len(valid), BATCH):
        written += await mirror_owners(redis, dict(valid[start : start + BATCH]))
    for start in range(0, len(revoked), BATCH):
        await redis.mset({auth_mirror_key(key_hash): REVOKED for key_hash in revoked[start : start + BATCH]})
        written += len(revoked[start : start + BATCH])
    stale: list[str] = []
    async for name in redis.scan_iter(match=f"{AUTH_MIRROR_PREFIX}*", count=1000):
        key_hash = (name.decode() if isinstance(name, bytes) else str(name)).removeprefix(AUTH_MIRROR_PREFIX)
        if key_hash not in known:
            stale.append(key_hash)
    deleted = 0
    for start in range(0, len(stale), BATCH):
        batch = stale[start : start + BATCH]
        # A key created after the database was read is mirrored and valid: ask again before deleting.
        async with sessionmaker() as session:
            created_since = await owners(session, batch)
        gone = [f"{AUTH_MIRROR_PREFIX}{key_hash}" for key_hash in batch if key_hash not in created_since]
        if gone:
            deleted += int(await redis.delete(*gone))
    log.info("API key mirror resynced: %d keys written, %d unknown to the database deleted", written, deleted)
    return written, deleted


async def revoked_since(session: AsyncSession, since: datetime) -> list[str]:
    rows = await session.execute(select(ApiKey.key_hash).where(ApiKey.revoked_at >= since))
    return [key_hash for (key_hash,) in rows]


async def carry_revocations(
    sessionmaker: async_sessionmaker[AsyncSession], redis: aioredis.Redis, every_s: float
) -> None:
    """Forever: every `every_s`, announces to the gateways the keys revoked in the database lately."""
    since = datetime.now(UTC) - timedelta(seconds=REANNOUNCE_S)
    while True:
        await asyncio.sleep(every_s)
        started = datetime.now(UTC)
        try:
            async with sessionmaker() as session:
                revoked = await revoked_since(session, since)
            if revoked:
                await announce_revocations(redis, revoked, REVOKED_MARKER_TTL_S)
            since = started - timedelta(seconds=REANNOUNCE_S)
        except (OSError, RedisError, SQLAlchemyError):
            log.warning("could not carry revocations to the key mirror; retrying", exc_info=True)

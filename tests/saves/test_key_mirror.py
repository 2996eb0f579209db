"""The mirror of valid API keys in Redis: what a saves replica's start makes whole, and what a revocation drops."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis
from fastapi import FastAPI
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from services.saves import key_mirror, keys
from services.shared.apikeys import (
    REVOKED,
    announce_revocations,
    auth_mirror_key,
    hash_key,
    mirror_owners,
    revoked_marker,
)


async def test_a_resync_mirrors_every_key_as_its_owner_or_revoked_and_deletes_unknown_ones(
    sessions: async_sessionmaker[AsyncSession], redis_client: aioredis.Redis
) -> None:
    owner = f"mirror-{uuid.uuid4().hex[:8]}"
    async with sessions() as session:
        kept_id, kept = await keys.create_key(session, owner)
        revoked_id, revoked = await keys.create_key(session, owner)
        await keys.revoke_key(session, revoked_id)
    # As if the revocation had been made while Redis was unreachable: the mirror still holds the key.
    await redis_client.set(auth_mirror_key(hash_key(revoked)), owner)
    unknown = hash_key(f"est_{uuid.uuid4().hex}")
    await redis_client.set(auth_mirror_key(unknown), owner)

    written, deleted = await key_mirror.resync(sessions, redis_client)

    assert await redis_client.get(auth_mirror_key(hash_key(kept))) == owner.encode()
    assert await redis_client.get(auth_mirror_key(hash_key(revoked))) == REVOKED.encode()
    assert await redis_client.get(auth_mirror_key(unknown)) is None
    assert written >= 2 and deleted >= 1
    assert kept_id


async def test_a_key_revoked_while_a_resync_runs_is_not_mirrored_again(redis_client: aioredis.Redis) -> None:
    key_hash = hash_key(f"est_{uuid.uuid4().hex}")
    await announce_revocations(redis_client, [key_hash], marker_ttl_s=60)
    # The resync read the database just before the revocation committed, and writes afterwards.
    assert await mirror_owners(redis_client, {key_hash: "alice"}) == 0
    assert await redis_client.get(auth_mirror_key(key_hash)) == REVOKED.encode()
    assert await redis_client.exists(revoked_marker(key_hash)) == 1


async def test_a_revocation_replaces_the_mirrored_owner_at_once(redis_client: aioredis.Redis) -> None:
    key_hash = hash_key(f"est_{uuid.uuid4().hex}")
    assert await mirror_owners(redis_client, {key_hash: "alice"}) == 1
    await announce_revocations(redis_client, [key_hash], marker_ttl_s=60)
    assert await redis_client.get(auth_mirror_key(key_hash)) == REVOKED.encode()


async def test_the_saves_service_resyncs_the_mirror_when_it_starts(
    sessions: async_sessionmaker[AsyncSession], redis_client: aioredis.Redis, settings_env: None
) -> None:
    from asgi_lifespan import LifespanManager

    from services.saves.app import create_app

    async with sessions() as session:
        _, key = await keys.create_key(session, "started")
    assert await redis_client.get(auth_mirror_key(hash_key(key))) is None
    app: FastAPI = create_app()
    async with LifespanManager(app):
        assert await redis_client.get(auth_mirror_key(hash_key(key))) == b"started"

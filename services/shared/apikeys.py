"""How an API key is turned into what is stored, looked up, cached and revoked; shared so the gateway,
saves and the `estimator keys` command agree."""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from services.shared.redis import KEY_PREFIX

API_KEY_PREFIX = "est_"
AUTH_CACHE_PREFIX = f"{KEY_PREFIX}:auth:"
REVOKED_PREFIX = f"{KEY_PREFIX}:auth-revoked:"
REVOKED_CHANNEL = f"{KEY_PREFIX}:auth-revoked"
"""Each revoked key's hash is published here, so every gateway drops it from its in-process cache."""

# Caches a lookup's answer unless the key was revoked meanwhile: a lookup that read the database just
# before a revocation committed must not put the revoked key back for the cache's whole TTL.
CACHE_OWNER = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


def hash_key(key: str) -> str:
    """sha256 hex of the whole key, as kept in `api_keys.key_hash`."""
    return hashlib.sha256(key.encode()).hexdigest()


def auth_cache_key(key_hash: str) -> str:
    """Redis key under which gateways cache a key's owner (cleared on revocation)."""
    return f"{AUTH_CACHE_PREFIX}{key_hash}"


def revoked_marker(key_hash: str) -> str:
    return f"{REVOKED_PREFIX}{key_hash}"


async def announce_revocations(redis: aioredis.Redis, key_hashes: list[str], marker_ttl_s: int) -> None:
    """After the database has revoked the keys: mark them (for in-flight lookups), drop them from Redis,
    then from every gateway's process cache."""
    for key_hash in key_hashes:
        await redis.set(revoked_marker(key_hash), 1, ex=marker_ttl_s)
        await redis.delete(auth_cache_key(key_hash))
        await redis.publish(REVOKED_CHANNEL, key_hash)

"""How an API key is turned into what is stored, looked up, cached, mirrored and revoked; shared so the
gateway, saves and the `estimator keys` command agree.

Two kinds of entry in Redis say who owns a key hash:

- the **mirror** (`estimator:auth-key:{hash}`, no expiry), written by the saves side: the owner when a key
  is created, `-` (REVOKED) when it is revoked, and both for every key when a saves replica starts
  (`services/saves/key_mirror.py`). It is what lets a gateway accept a valid key it has never seen, and
  refuse a revoked one, while the saves service is down.
- the **cache** (`estimator:auth:{hash}`, `AUTH_CACHE_TTL_S`), written by gateways with what the saves
  service answered for a key the mirror lacks, including "unknown" for a short while.

A revocation replaces the mirrored owner with `-` and deletes the cached one at once, in the same
transaction that marks the key revoked and announces it.
"""

from __future__ import annotations

import hashlib

import redis.asyncio as aioredis

from services.shared.redis import KEY_PREFIX

API_KEY_PREFIX = "est_"
AUTH_CACHE_PREFIX = f"{KEY_PREFIX}:auth:"
AUTH_MIRROR_PREFIX = f"{KEY_PREFIX}:auth-key:"
REVOKED_PREFIX = f"{KEY_PREFIX}:auth-revoked:"
REVOKED = "-"
"""What the mirror holds for a revoked key (and the gateways' cache for a key the saves service does not know)."""
REVOKED_CHANNEL = f"{KEY_PREFIX}:auth-revoked"
"""Each revoked key's hash is published here, so every gateway drops it from its in-process cache."""

# Caches a lookup's answer unless the key was revoked meanwhile: a lookup that read the database just
# before a revocation committed must not put the revoked key back for the cache's whole TTL.
CACHE_OWNER = """
if redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
redis.call('SET', KEYS[1], ARGV[1], 'EX', ARGV[2])
return 1
"""


# Mirrors key hashes (KEYS[2i-1], revocation marker KEYS[2i]) to their owners (ARGV[i]) unless the key was
# revoked meanwhile: a resync that read the database just before a revocation must not bring the key back.
MIRROR_OWNERS = """
local written = 0
for i = 1, #ARGV do
  if redis.call('EXISTS', KEYS[2 * i]) == 0 then
    redis.call('SET', KEYS[2 * i - 1], ARGV[i])
    written = written + 1
  end
end
return written
"""


def hash_key(key: str) -> str:
    """sha256 hex of the whole key, as kept in `api_keys.key_hash`."""
    return hashlib.sha256(key.encode()).hexdigest()


def auth_cache_key(key_hash: str) -> str:
    """Redis key under which gateways cache a key's owner (cleared on revocation)."""
    return f"{AUTH_CACHE_PREFIX}{key_hash}"


def auth_mirror_key(key_hash: str) -> str:
    """Redis key under which the saves side mirrors a key's owner, or REVOKED."""
    return f"{AUTH_MIRROR_PREFIX}{key_hash}"


def revoked_marker(key_hash: str) -> str:
    return f"{REVOKED_PREFIX}{key_hash}"


async def mirror_owners(redis: aioredis.Redis, owners: dict[str, str]) -> int:
    """Mirrors {key hash: owner}, skipping keys revoked meanwhile; returns how many were written."""
    if not owners:
        return 0
    keys = [name for key_hash in owners for name in (auth_mirror_key(key_hash), revoked_marker(key_hash))]
    written = await redis.eval(MIRROR_OWNERS, len(keys), *keys, *owners.values())  # type: ignore[misc]
    return int(written)


async def announce_revocations(redis: aioredis.Redis, key_hashes: list[str], marker_ttl_s: int) -> None:
    """After the database has revoked the keys, in one transaction: mark them (for in-flight lookups and
    mirror writes), mirror them as revoked, drop them from the cache, and tell every gateway's process cache."""
    async with redis.pipeline(transaction=True) as pipe:
        for key_hash in key_hashes:
            pipe.set(revoked_marker(key_hash), 1, ex=marker_ttl_s)
            pipe.set(auth_mirror_key(key_hash), REVOKED)
            pipe.delete(auth_cache_key(key_hash))
            pipe.publish(REVOKED_CHANNEL, key_hash)
        await pipe.execute()

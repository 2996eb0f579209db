"""API-key authentication for every /api route.

A key's owner is found in three places, cheapest first: this process's KeyCache (no I/O, so the status
route costs one Redis call in all), then Redis (the mirror of keys the saves side keeps, and the gateways'
cache of what the saves service answered), then the saves service, so that neither a valid nor a revoked
key needs the saves service while Redis holds its mirror. A revocation (`estimator keys revoke`) removes the
key from Redis and, by pub/sub, from every process's cache at once.

Failed authentications are counted per client address (`AUTH_FAILURE_LIMIT`), and a key Redis knows
nothing of is counted before it is asked of the saves service (so however many arrive at once, an address
costs the saves service at most the limit's lookups in a window): an address that has spent them gets 429.
A valid key found in memory or in Redis is never refused for them, so one misbehaving client behind a
shared address does not lock the others out.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from services.gateway.state import GatewayState
from services.shared.apikeys import REVOKED, auth_cache_key, auth_mirror_key, hash_key, revoked_marker
from services.shared.errors import ApiError

_UNKNOWN = REVOKED  # one answer for a revoked key and for one the saves service does not know
_NOT_IN_REDIS = ""
_FROM_SAVES = "saves:"
NEGATIVE_TTL_S = 10
MAX_KEY_CHARS = 200


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


async def _owner_for(request: Request, state: GatewayState, key_hash: str) -> tuple[str, bool]:
    """The key's owner or _UNKNOWN, and whether the lookup was already counted as a failure."""
    cached = state.keys.get(key_hash)
    if cached is not None:
        return cached, False
    # Every user of a key misses at the same moment when its entry expires: one lookup serves them all.
    owner = await state.key_lookups.do(key_hash, lambda: _from_redis(state, key_hash))
    if owner != _NOT_IN_REDIS:
        return owner, False
    # Counted before the saves service is asked: 429 here if this address has no failure left.
    await state.limits.auth_failed(request)
    return await state.key_lookups.do(_FROM_SAVES + key_hash, lambda: _from_saves(state, key_hash)), True


async def _from_redis(state: GatewayState, key_hash: str) -> str:
    """The mirrored answer (an owner, or _UNKNOWN for a revoked key), else the cached one, else _NOT_IN_REDIS."""
    # A revocation heard while this lookup runs must win over the answer the lookup brings back.
    revocations_seen = state.keys.revocations
    mirrored, cached = await state.redis.mget(auth_mirror_key(key_hash), auth_cache_key(key_hash))
    owner = mirrored or cached
    if owner is None:
        return _NOT_IN_REDIS
    owner = str(owner)
    if owner != _UNKNOWN:
        state.keys.put(key_hash, owner, revocations_seen)
    return owner


async def _from_saves(state: GatewayState, key_hash: str) -> str:
    revocations_seen = state.keys.revocations
    cache_key = auth_cache_key(key_hash)
    owner = await state.saves.owner_for_key_hash(key_hash) or _UNKNOWN
    ttl = state.settings.auth_cache_ttl_s if owner != _UNKNOWN else NEGATIVE_TTL_S
    await state.cache_owner(keys=[cache_key, revoked_marker(key_hash)], args=[owner, ttl])
    if owner != _UNKNOWN:
        state.keys.put(key_hash, owner, revocations_seen)
    return owner


class ApiKeyAuth(HTTPBearer):
    """The bearer scheme that also resolves the key to its owner.

    One dependency that takes only the request, rather than an owner lookup depending on HTTPBearer and
    the state: FastAPI's per-request cost grows with every dependency in the tree, and this is on every
    request (measured: about a fifth of the status route's time). Being an HTTPBearer, it still puts
    the bearer scheme on every operation of the OpenAPI.
    """

    async def __call__(self, request: Request) -> str:  # type: ignore[override]
        return await authenticate(request)


async def authenticate(request: Request) -> str:
    """The owner of the request's API key, or 401."""
    scheme, _, key = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise _unauthorized("missing API key: send Authorization: Bearer <key>")
    key = key.strip()
    state: GatewayState = request.app.state.gateway
    if len(key) > MAX_KEY_CHARS:
        await state.limits.auth_failed(request)
        raise _unauthorized("unknown API key")
    owner, counted = await _owner_for(request, state, hash_key(key))
    if owner == _UNKNOWN:
        if not counted:
            await state.limits.auth_failed(request)  # 429 once this address has spent its failures
        raise _unauthorized("unknown API key")
    return owner


CurrentOwner = Annotated[str, Depends(ApiKeyAuth(description="An API key from `estimator keys create`."))]

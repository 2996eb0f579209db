"""API-key authentication for every /api route.

A key's owner is found in three places, cheapest first: this process's KeyCache (no I/O, so the status
route costs one Redis call in all), then Redis (shared by the gateways), then the saves service. A
revocation (`estimator keys revoke`) removes the key from Redis and, by pub/sub, from every process's
cache at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPBearer

from services.gateway.state import GatewayState
from services.shared.apikeys import auth_cache_key, hash_key, revoked_marker
from services.shared.errors import ApiError

_UNKNOWN = "-"
NEGATIVE_TTL_S = 10
MAX_KEY_CHARS = 200


def _unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, {"WWW-Authenticate": "Bearer"})


async def _owner_for(state: GatewayState, key_hash: str) -> str:
    cached = state.keys.get(key_hash)
    if cached is not None:
        return cached
    # Every user of a key misses at the same moment when its entry expires: one lookup serves them all.
    return await state.key_lookups.do(key_hash, lambda: _look_up(state, key_hash))


async def _look_up(state: GatewayState, key_hash: str) -> str:
    # A revocation heard while this lookup runs must win over the answer the lookup brings back.
    revocations_seen = state.keys.revocations
    cache_key = auth_cache_key(key_hash)
    owner = await state.redis.get(cache_key)
    if owner is None:
        owner = await state.saves.owner_for_key_hash(key_hash) or _UNKNOWN
        ttl = state.settings.auth_cache_ttl_s if owner != _UNKNOWN else NEGATIVE_TTL_S
        await state.cache_owner(keys=[cache_key, revoked_marker(key_hash)], args=[owner, ttl])
    owner = str(owner)
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
    if len(key) > MAX_KEY_CHARS:
        raise _unauthorized("unknown API key")
    owner = await _owner_for(request.app.state.gateway, hash_key(key))
    if owner == _UNKNOWN:
        raise _unauthorized("unknown API key")
    return owner


CurrentOwner = Annotated[str, Depends(ApiKeyAuth(description="An API key from `estimator keys create`."))]

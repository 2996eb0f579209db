"""API-key authentication for every /api route.

Keys are looked up by their sha256 in the saves service and the answer is cached in Redis for a short
while, so the hot status path costs one Redis GET for auth and never touches SQL. `estimator keys
revoke` deletes the cache entry, so a revoked key stops working at once.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from services.gateway.state import State
from services.shared.apikeys import auth_cache_key, hash_key
from services.shared.errors import ApiError

_bearer = HTTPBearer(auto_error=False, description="An API key from `estimator keys create`.")
_UNKNOWN = "-"
NEGATIVE_TTL_S = 10
MAX_KEY_CHARS = 200


async def authenticate(
    state: State, credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)]
) -> str:
    if credentials is None or credentials.scheme.lower() != "bearer" or not credentials.credentials:
        raise ApiError(
            401,
            "unauthorized",
            "missing API key: send Authorization: Bearer <key>",
            {"WWW-Authenticate": "Bearer"},
        )
    key = credentials.credentials
    if len(key) > MAX_KEY_CHARS:
        raise ApiError(401, "unauthorized", "unknown API key", {"WWW-Authenticate": "Bearer"})
    key_hash = hash_key(key)
    cache_key = auth_cache_key(key_hash)
    owner = await state.redis.get(cache_key)
    if owner is None:
        owner = await state.saves.owner_for_key_hash(key_hash) or _UNKNOWN
        ttl = state.settings.auth_cache_ttl_s if owner != _UNKNOWN else NEGATIVE_TTL_S
        await state.redis.set(cache_key, owner, ex=ttl)
    if owner == _UNKNOWN:
        raise ApiError(401, "unauthorized", "unknown API key", {"WWW-Authenticate": "Bearer"})
    return str(owner)


CurrentOwner = Annotated[str, Depends(authenticate)]

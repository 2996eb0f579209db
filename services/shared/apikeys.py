"""How an API key is turned into what is stored and looked up; shared so the gateway and saves agree."""

from __future__ import annotations

import hashlib

KEY_PREFIX = "est_"


def hash_key(key: str) -> str:
    """sha256 hex of the whole key, as kept in `api_keys.key_hash`."""
    return hashlib.sha256(key.encode()).hexdigest()


AUTH_CACHE_PREFIX = "estimator:auth:"


def auth_cache_key(key_hash: str) -> str:
    """Redis key under which gateways cache a key's owner (cleared on revocation)."""
    return f"{AUTH_CACHE_PREFIX}{key_hash}"

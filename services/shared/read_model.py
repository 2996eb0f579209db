"""The read model: what the gateway serves for saves reads without calling the saves service.

The saves service owns the data; after it answers a read it leaves the serialised answer here, and the
gateway serves the next identical read with one Redis call. Every entry is keyed by its owner's
*generation*, a counter the saves service increments around every write to that owner's saves
(new save, rename, delete, chat turn, revision). A reader finds only entries of the current
generation, so:

- a write is visible on the next read from any replica: the increment orphans every older entry at
  once, with no list of keys to delete;
- a fill can never resurrect old data: it is written under the generation read *before* its database
  query, so a write that commits meanwhile has already moved the owner past it;
- isolation stays exact: the owner is part of every key, and misses (including 404s) are never cached.

Orphaned entries expire with their TTL. Each entry is `<etag>\\n<json>`, so a conditional read is
answered 304 from the same call.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import redis.asyncio as aioredis

PREFIX = "estimator:read"
DEFAULT_TTL_S = 300

# Reads the owner's generation and the entry under it in one round trip.
_GET = """
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', ARGV[1] .. generation .. ARGV[2])}
"""


class Entry(NamedTuple):
    etag: str
    body: str


class Lookup(NamedTuple):
    generation: str
    entry: Entry | None


def owner_space(owner: str) -> str:
    """Owners are free text up to 200 characters; their digest keeps keys short and unambiguous."""
    return f"{PREFIX}:{hashlib.sha256(owner.encode()).hexdigest()[:24]}"


def generation_key(owner: str) -> str:
    return f"{owner_space(owner)}:gen"


def save_view(save_id: str) -> str:
    return f"save:{save_id}"


def list_view(limit: int, cursor: str | None) -> str:
    return f"list:{limit}:{hashlib.sha256(cursor.encode()).hexdigest()[:24] if cursor else ''}"


def chat_view(job_id: str) -> str:
    return f"chat:{job_id}"


def etag_of(body: str) -> str:
    """A strong validator: the digest of the exact bytes served."""
    return '"' + hashlib.blake2b(body.encode(), digest_size=12).hexdigest() + '"'


def _text(value: str | bytes) -> str:
    return value.decode() if isinstance(value, bytes) else str(value)


class ReadModel:
    def __init__(self, redis: aioredis.Redis, ttl_s: int = DEFAULT_TTL_S) -> None:
        self.redis = redis
        self.ttl_s = ttl_s
        self._get = redis.register_script(_GET)

    async def get(self, owner: str, view: str) -> Lookup:
        generation, raw = await self._get(keys=[generation_key(owner)], args=[f"{owner_space(owner)}:", f":{view}"])
        generation = _text(generation)
        if not raw:
            return Lookup(generation, None)
        etag, _, body = _text(raw).partition("\n")
        return Lookup(generation, Entry(etag, body))

    async def generation(self, owner: str) -> str:
        """Read before the database query whose answer `put` will store."""
        value = await self.redis.get(generation_key(owner))
        return "0" if value is None else _text(value)

    async def put(self, owner: str, generation: str, view: str, body: str) -> Entry:
        entry = Entry(etag_of(body), body)
        await self.redis.set(f"{owner_space(owner)}:{generation}:{view}", f"{entry.etag}\n{body}", ex=self.ttl_s)
        return entry

    async def invalidate(self, owner: str) -> None:
        """Moves the owner to a new generation; every entry cached so far is no longer found."""
        await self.redis.incr(generation_key(owner))

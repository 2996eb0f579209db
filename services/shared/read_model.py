"""The read model: what the gateway serves for saves reads without calling the saves service.

The saves service owns the data; after it answers a read it leaves the serialised answer here, and the
gateway serves the next identical read with one Redis call. Every entry is keyed by a *generation*: a
counter of the thing the answer depends on, which the saves service increments after every write to
it. There are three: an owner's listing (new save, rename, delete, revision), one save with its
revisions and their diffs (rename, delete, revision) and one job's chat history (a chat turn, delete).
A reader finds only entries of the current generation, so:

- a write is visible on the next read from any replica: the increment orphans every older entry at
  once, with no list of keys to delete;
- a fill can never resurrect old data: it is written under the generation read *before* its database
  query, so a write that commits meanwhile has already moved past it;
- isolation stays exact: the owner is part of every key, and misses (including 404s) are never cached;
- a chat turn that only answers moves one chat history on, not everything its owner has cached.

Orphaned entries expire with their TTL. Each entry is `<etag>\\n<json>`, so a conditional read is
answered 304 from the same call.
"""

from __future__ import annotations

import hashlib
from typing import NamedTuple

import redis.asyncio as aioredis

from services.shared.redis import KEY_PREFIX

PREFIX = f"{KEY_PREFIX}:read"
DEFAULT_TTL_S = 300
LISTING = "list"

# Reads the view's generation and the entry under it in one round trip.
_GET = """
local generation = redis.call('GET', KEYS[1]) or '0'
return {generation, redis.call('GET', KEYS[1] .. ':' .. generation .. ARGV[1])}
"""


class Entry(NamedTuple):
    etag: str
    body: str


class Lookup(NamedTuple):
    generation: str
    entry: Entry | None


class View(NamedTuple):
    """One cacheable answer: `scope` names the generation it depends on, `name` tells it apart within it."""

    scope: str
    name: str


def save_scope(save_id: str) -> str:
    return f"save:{save_id}"


def job_scope(job_id: str) -> str:
    return f"job:{job_id}"


def list_view(limit: int, cursor: str | None) -> View:
    return View(LISTING, f"{limit}:{hashlib.sha256(cursor.encode()).hexdigest()[:24] if cursor else ''}")


def save_view(save_id: str) -> View:
    return View(save_scope(save_id), "detail")


def revisions_view(save_id: str, limit: int, cursor: str | None) -> View:
    """A page of a save's revisions: it changes when the save gets a revision, and is gone with the save."""
    return View(save_scope(save_id), f"revisions:{list_view(limit, cursor).name}")


def revision_view(save_id: str, revision: int) -> View:
    """A revision never changes, but it is cached in its save's scope so that it is gone with the save."""
    return View(save_scope(save_id), f"revision:{revision}")


def revision_diff_view(save_id: str, revision: int, against: int) -> View:
    return View(save_scope(save_id), f"diff:{against}:{revision}")


def chat_view(job_id: str) -> View:
    return View(job_scope(job_id), "chat")


def owner_space(owner: str) -> str:
    """Owners are free text up to 200 characters; their digest keeps keys short and unambiguous."""
    return f"{PREFIX}:{hashlib.sha256(owner.encode()).hexdigest()[:24]}"


def generation_key(owner: str, scope: str) -> str:
    return f"{owner_space(owner)}:{scope}"


def entry_key(owner: str, generation: str, view: View) -> str:
    return f"{generation_key(owner, view.scope)}:{generation}:{view.name}"


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

    async def get(self, owner: str, view: View) -> Lookup:
        generation, raw = await self._get(keys=[generation_key(owner, view.scope)], args=[f":{view.name}"])
        generation = _text(generation)
        if not raw:
            return Lookup(generation, None)
        etag, _, body = _text(raw).partition("\n")
        return Lookup(generation, Entry(etag, body))

    async def generation(self, owner: str, view: View) -> str:
        """Read before the database query whose answer `put` will store."""
        value = await self.redis.get(generation_key(owner, view.scope))
        return "0" if value is None else _text(value)

    async def put(self, owner: str, generation: str, view: View, body: str) -> Entry:
        entry = Entry(etag_of(body), body)
        await self.redis.set(entry_key(owner, generation, view), f"{entry.etag}\n{body}", ex=self.ttl_s)
        return entry

    async def invalidate(self, owner: str, *scopes: str) -> None:
        """Moves each scope to a new generation; every entry cached under the old one is no longer found."""
        async with self.redis.pipeline(transaction=False) as pipe:
            for scope in scopes:
                pipe.incr(generation_key(owner, scope))
            await pipe.execute()

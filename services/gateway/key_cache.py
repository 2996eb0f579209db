"""Owners of recently used API keys, held in each gateway process so most requests authenticate with no I/O.

Bounded (least recently used first out), so a flood of distinct keys cannot grow it, and only valid keys
are held: unknown keys are remembered in Redis, not here. An entry lives `ttl_s`. A revocation
(`estimator keys revoke`) is published on REVOKED_CHANNEL and drops the key from every gateway at once;
while the subscription that carries revocations is down, the cache is emptied and not used, so a missed
message can never keep a revoked key alive.
"""

from __future__ import annotations

import time
from collections import OrderedDict

MAX_ENTRIES = 10_000


class KeyCache:
    def __init__(self, ttl_s: float, max_entries: int = MAX_ENTRIES) -> None:
        self.ttl_s = ttl_s
        self.max_entries = max_entries
        self.entries: OrderedDict[str, tuple[str, float]] = OrderedDict()
        self.trusted = False
        self.revocations = 0
        """Counts revocations heard (and losses of the subscription): `put` refuses answers older than one."""

    def get(self, key_hash: str) -> str | None:
        if not self.trusted:
            return None
        found = self.entries.get(key_hash)
        if found is None:
            return None
        owner, expires = found
        if time.monotonic() >= expires:
            del self.entries[key_hash]
            return None
        self.entries.move_to_end(key_hash)
        return owner

    def put(self, key_hash: str, owner: str, revocations_seen: int) -> None:
        if not self.trusted or self.ttl_s <= 0 or revocations_seen != self.revocations:
            return
        self.entries[key_hash] = (owner, time.monotonic() + self.ttl_s)
        self.entries.move_to_end(key_hash)
        while len(self.entries) > self.max_entries:
            self.entries.popitem(last=False)

    # The subscription's side: see JobEventHub.

    def connected(self) -> None:
        self.entries.clear()
        self.trusted = True

    def lost(self) -> None:
        self.trusted = False
        self.revocations += 1
        self.entries.clear()

    def message(self, data: str) -> None:
        self.revocations += 1
        self.entries.pop(data, None)

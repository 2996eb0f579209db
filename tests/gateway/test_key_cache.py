"""The gateway's in-process key cache: bounded, expiring, and never wiser than the last revocation."""

from __future__ import annotations

import time

import pytest

from services.gateway.key_cache import KeyCache


def subscribed(ttl_s: float = 60.0, max_entries: int = 100) -> KeyCache:
    cache = KeyCache(ttl_s, max_entries)
    cache.connected()
    return cache


def test_a_cached_owner_is_served_until_it_expires(monkeypatch: pytest.MonkeyPatch) -> None:
    cache = subscribed(ttl_s=10)
    cache.put("h", "alice", cache.revocations)
    assert cache.get("h") == "alice"
    later = time.monotonic() + 11
    monkeypatch.setattr(time, "monotonic", lambda: later)
    assert cache.get("h") is None


def test_a_revocation_drops_the_key_and_refuses_answers_looked_up_before_it() -> None:
    cache = subscribed()
    cache.put("h", "alice", cache.revocations)
    seen_before = cache.revocations
    cache.message("h")
    assert cache.get("h") is None
    cache.put("h", "alice", seen_before)  # a lookup that started before the revocation came back
    assert cache.get("h") is None


def test_nothing_is_cached_while_revocations_cannot_be_heard() -> None:
    cache = KeyCache(60)
    cache.put("h", "alice", cache.revocations)
    assert cache.get("h") is None, "not subscribed yet"
    cache.connected()
    cache.put("h", "alice", cache.revocations)
    cache.lost()
    assert cache.get("h") is None
    cache.connected()
    assert cache.get("h") is None, "what was cached before the loss is gone"


def test_the_cache_is_bounded_least_recently_used_first_out() -> None:
    cache = subscribed(max_entries=3)
    for name in "abc":
        cache.put(name, name, cache.revocations)
    assert cache.get("a") == "a"
    cache.put("d", "d", cache.revocations)
    assert len(cache.entries) == 3
    assert cache.get("b") is None and cache.get("a") == "a"


def test_a_zero_ttl_turns_the_cache_off() -> None:
    cache = subscribed(ttl_s=0)
    cache.put("h", "alice", cache.revocations)
    assert cache.get("h") is None

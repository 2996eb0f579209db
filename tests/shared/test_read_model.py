"""The read model's generations: a write orphans every cached answer, and a slow fill cannot bring one back."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from services.shared.read_model import ReadModel, etag_of, list_view, owner_space, save_view


def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:8]}"


async def test_an_answer_is_found_until_the_owner_writes(redis_client: aioredis.Redis) -> None:
    reads, who = ReadModel(redis_client), owner()
    stored = await reads.put(who, await reads.generation(who), save_view("s1"), '{"name":"a"}')
    assert stored.etag == etag_of('{"name":"a"}')
    assert await reads.get(who, save_view("s1")) == ("0", stored)
    assert await reads.get(who, save_view("s2")) == ("0", None)

    await reads.invalidate(who)
    assert await reads.get(who, save_view("s1")) == ("1", None)


async def test_a_fill_that_read_before_a_write_is_never_served(redis_client: aioredis.Redis) -> None:
    reads, who = ReadModel(redis_client), owner()
    generation = await reads.generation(who)  # a read starts, queries the database...
    await reads.invalidate(who)  # ...a write commits meanwhile...
    await reads.put(who, generation, list_view(20, None), "stale")  # ...and the read stores what it saw
    assert (await reads.get(who, list_view(20, None))).entry is None


async def test_owners_do_not_share_entries(redis_client: aioredis.Redis) -> None:
    reads, alice, bob = ReadModel(redis_client), owner(), owner()
    await reads.put(alice, await reads.generation(alice), save_view("s1"), "{}")
    assert (await reads.get(bob, save_view("s1"))).entry is None


async def test_list_pages_are_told_apart_by_size_and_cursor(redis_client: aioredis.Redis) -> None:
    views = {list_view(20, None), list_view(10, None), list_view(20, "abc"), list_view(20, "abd")}
    assert len(views) == 4


async def test_entries_expire(redis_client: aioredis.Redis) -> None:
    reads, who = ReadModel(redis_client, ttl_s=5), owner()
    await reads.put(who, await reads.generation(who), list_view(20, "abc"), "page")
    assert 0 < await redis_client.ttl(f"{owner_space(who)}:0:{list_view(20, 'abc')}") <= 5

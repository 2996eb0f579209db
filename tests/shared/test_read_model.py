"""The read model's generations: a write orphans what it changed, and a slow fill cannot bring it back."""

from __future__ import annotations

import uuid

import redis.asyncio as aioredis

from services.shared.read_model import (
    LISTING,
    ReadModel,
    chat_view,
    entry_key,
    etag_of,
    job_scope,
    list_view,
    save_scope,
    save_view,
)


def owner() -> str:
    return f"owner-{uuid.uuid4().hex[:8]}"


async def test_an_answer_is_found_until_what_it_depends_on_is_written(redis_client: aioredis.Redis) -> None:
    reads, who, view = ReadModel(redis_client), owner(), save_view("s1")
    stored = await reads.put(who, await reads.generation(who, view), view, '{"name":"a"}')
    assert stored.etag == etag_of('{"name":"a"}')
    assert await reads.get(who, view) == ("0", stored)
    assert await reads.get(who, save_view("s2")) == ("0", None)

    await reads.invalidate(who, save_scope("s1"))
    assert await reads.get(who, view) == ("1", None)


async def test_a_write_moves_on_only_what_it_changed(redis_client: aioredis.Redis) -> None:
    reads, who = ReadModel(redis_client), owner()
    views = [list_view(20, None), save_view("s1"), chat_view("j1"), chat_view("j2")]
    for view in views:
        await reads.put(who, await reads.generation(who, view), view, view.name)

    await reads.invalidate(who, job_scope("j1"))  # a chat turn that only answered
    assert [(await reads.get(who, view)).entry is not None for view in views] == [True, True, False, True]

    await reads.invalidate(who, LISTING, save_scope("s1"))  # a rename
    assert [(await reads.get(who, view)).entry is not None for view in views] == [False, False, False, True]


async def test_a_fill_that_read_before_a_write_is_never_served(redis_client: aioredis.Redis) -> None:
    reads, who, view = ReadModel(redis_client), owner(), list_view(20, None)
    generation = await reads.generation(who, view)  # a read starts, queries the database...
    await reads.invalidate(who, LISTING)  # ...a write commits meanwhile...
    await reads.put(who, generation, view, "stale")  # ...and the read stores what it saw
    assert (await reads.get(who, view)).entry is None


async def test_owners_do_not_share_entries(redis_client: aioredis.Redis) -> None:
    reads, alice, bob, view = ReadModel(redis_client), owner(), owner(), save_view("s1")
    await reads.put(alice, await reads.generation(alice, view), view, "{}")
    assert (await reads.get(bob, view)).entry is None


async def test_list_pages_are_told_apart_by_size_and_cursor() -> None:
    views = {list_view(20, None), list_view(10, None), list_view(20, "abc"), list_view(20, "abd")}
    assert len(views) == 4


async def test_entries_expire(redis_client: aioredis.Redis) -> None:
    reads, who, view = ReadModel(redis_client, ttl_s=5), owner(), list_view(20, "abc")
    await reads.put(who, await reads.generation(who, view), view, "page")
    assert 0 < await redis_client.ttl(entry_key(who, "0", view)) <= 5

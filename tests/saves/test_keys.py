"""API keys: shown once, stored hashed, looked up by hash, revocable by id or prefix."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.saves import keys
from services.saves.models import ApiKey
from services.shared.apikeys import hash_key
from tests.saves.factories import new_owner


async def test_a_created_key_identifies_its_owner_and_is_never_stored_in_plaintext(
    session: AsyncSession,
) -> None:
    owner = new_owner()
    key_id, key = await keys.create_key(session, owner)

    assert key.startswith("est_") and len(key) > 40
    assert await keys.owner_for_hash(session, hash_key(key)) == owner
    assert await keys.owner_for_hash(session, hash_key(key + "x")) is None
    stored = (await session.scalars(select(ApiKey).where(ApiKey.owner == owner))).one()
    assert str(stored.key_id) == key_id
    assert key not in (stored.key_hash, stored.prefix)
    assert stored.prefix == key[4:12]


async def test_revoked_keys_stop_working(session: AsyncSession) -> None:
    owner = new_owner()
    by_id, by_id_key = await keys.create_key(session, owner)
    _, by_prefix_key = await keys.create_key(session, owner)

    assert len(await keys.revoke_key(session, by_id)) == 1
    assert await keys.revoke_key(session, by_prefix_key[:12]) == [hash_key(by_prefix_key)]
    assert await keys.revoke_key(session, by_id) == [], "revoking twice changes nothing"

    assert await keys.owner_for_hash(session, hash_key(by_id_key)) is None
    assert await keys.owner_for_hash(session, hash_key(by_prefix_key)) is None
    listed = await keys.list_keys(session, owner)
    assert len(listed) == 2
    assert all(info.revoked_at is not None for info in listed)


async def test_listing_is_per_owner_unless_asked_for_all(session: AsyncSession) -> None:
    alice, bob = new_owner(), new_owner()
    alice_key, _ = await keys.create_key(session, alice)
    bob_key, _ = await keys.create_key(session, bob)

    assert [info.key_id for info in await keys.list_keys(session, alice)] == [alice_key]
    everyone = {info.key_id for info in await keys.list_keys(session, None)}
    assert {alice_key, bob_key} <= everyone


def test_no_key_has_a_prefix_the_command_line_would_read_as_an_option() -> None:
    """One random key in 64 used to start with "-", and `keys revoke <prefix>` then exited 2."""
    prefixes = [keys.new_key().removeprefix("est_") for _ in range(2000)]
    assert not [prefix for prefix in prefixes if prefix.startswith("-")]


async def test_the_listing_shows_prefixes_as_revoke_takes_them(session: AsyncSession) -> None:
    owner = new_owner()
    _, kept = await keys.create_key(session, owner)
    _, gone = await keys.create_key(session, owner)
    await keys.revoke_key(session, gone[:12])

    header, *rows = keys.key_table(await keys.list_keys(session, owner)).splitlines()
    assert header.split() == ["KEY", "ID", "OWNER", "PREFIX", "CREATED", "(UTC)", "REVOKED", "(UTC)"]
    by_prefix = {row.split()[2]: row for row in rows}
    assert set(by_prefix) == {kept[:12], gone[:12]}
    assert by_prefix[kept[:12]].endswith(" -") and not by_prefix[gone[:12]].endswith(" -")
    assert kept not in "\n".join(rows) and gone not in "\n".join(rows)

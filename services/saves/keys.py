"""API keys: issued once in plaintext, then known only by their sha256 hash and a short prefix.

sha256 rather than bcrypt/argon2 on purpose: a key is 256 bits from `secrets`, so there is nothing to
brute-force and no need for a slow hash, while the gateway must hash and look the key up on every request.
A fast, unsalted digest also makes the lookup a plain unique-index hit.
"""

from __future__ import annotations

import secrets
import uuid
from datetime import datetime

from pydantic import BaseModel
from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.saves.models import ApiKey, utcnow
from services.shared.apikeys import API_KEY_PREFIX, hash_key

PREFIX_LENGTH = 8


class ApiKeyInfo(BaseModel):
    key_id: str
    owner: str
    prefix: str
    created_at: datetime
    revoked_at: datetime | None


def _display_prefix(key: str) -> str:
    """The first random characters (after `est_`, which every key shares), so prefixes tell keys apart."""
    return key.removeprefix(API_KEY_PREFIX)[:PREFIX_LENGTH]


def new_key() -> str:
    """A random key whose display prefix never starts with "-": one key in 64 did, and `estimator keys
    revoke <prefix>` read such a prefix as an option (exit 2). Costs 1/64 of one character's entropy."""
    while (body := secrets.token_urlsafe(32)).startswith("-"):
        continue
    return API_KEY_PREFIX + body


async def create_key(session: AsyncSession, owner: str) -> tuple[str, str]:
    """Returns (key_id, plaintext key); the plaintext is never stored and cannot be shown again."""
    key = new_key()
    row = ApiKey(owner=owner, key_hash=hash_key(key), prefix=_display_prefix(key))
    session.add(row)
    await session.commit()
    return str(row.key_id), key


async def revoke_key(session: AsyncSession, key_id_or_prefix: str) -> list[str]:
    """Revokes by key id, or by prefix (with or without `est_`); returns the hashes of the keys revoked,
    which the caller announces to the gateways' caches."""
    try:
        match = ApiKey.key_id == uuid.UUID(key_id_or_prefix)
    except ValueError:
        match = ApiKey.prefix == _display_prefix(key_id_or_prefix)
    revoked = await session.scalars(
        update(ApiKey).where(match, ApiKey.revoked_at.is_(None)).values(revoked_at=utcnow()).returning(ApiKey.key_hash)
    )
    hashes = list(revoked.all())
    await session.commit()
    return hashes


async def list_keys(session: AsyncSession, owner: str | None) -> list[ApiKeyInfo]:
    """Every key, newest first; `owner=None` lists all owners' keys (operators' view)."""
    query = select(ApiKey).order_by(ApiKey.created_at.desc())
    if owner is not None:
        query = query.where(ApiKey.owner == owner)
    rows = (await session.scalars(query)).all()
    return [
        ApiKeyInfo(
            key_id=str(row.key_id),
            owner=row.owner,
            prefix=row.prefix,
            created_at=row.created_at,
            revoked_at=row.revoked_at,
        )
        for row in rows
    ]


async def owner_for_hash(session: AsyncSession, key_hash: str) -> str | None:
    return await session.scalar(select(ApiKey.owner).where(ApiKey.key_hash == key_hash, ApiKey.revoked_at.is_(None)))


def key_table(rows: list[ApiKeyInfo]) -> str:
    """`keys list` for people: aligned columns, times in UTC to the second, and each prefix in the `est_`
    form that `keys revoke` takes as it is."""
    lines = [("KEY ID", "OWNER", "PREFIX", "CREATED (UTC)", "REVOKED (UTC)")]
    for row in rows:
        revoked = f"{row.revoked_at:%Y-%m-%d %H:%M:%S}" if row.revoked_at else "-"
        lines.append(
            (row.key_id, row.owner, API_KEY_PREFIX + row.prefix, f"{row.created_at:%Y-%m-%d %H:%M:%S}", revoked)
        )
    widths = [max(len(line[column]) for line in lines) for column in range(len(lines[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip() + "\n" for line in lines
    )

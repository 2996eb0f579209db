"""The opaque listing cursors: the (updated_at, save_id) of the last save a page showed, or the number of
the last revision a page of a save's revisions showed.

It is opaque to clients so the keyset can change without breaking them; it is not signed because it only
narrows a query already scoped to the caller's own saves.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from services.shared.contracts import revision_number
from services.shared.errors import ApiError

_SEPARATOR = "|"
_REVISION_TAG = "revision"


def _encode(raw: str) -> str:
    return base64.urlsafe_b64encode(raw.encode()).decode().rstrip("=")


def _decode(cursor: str) -> str:
    return base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()


def _invalid() -> ApiError:
    return ApiError(422, "invalid_cursor", "the cursor is malformed; restart from the first page")


def encode_cursor(updated_at: datetime, save_id: uuid.UUID) -> str:
    return _encode(f"{updated_at.isoformat()}{_SEPARATOR}{save_id}")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = _decode(cursor)
        stamp, save_id = raw.split(_SEPARATOR)
        updated_at = datetime.fromisoformat(stamp)
        if updated_at.tzinfo is None:
            raise ValueError("cursor timestamp has no timezone")
        return updated_at, uuid.UUID(save_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _invalid() from exc


def encode_revision_cursor(revision: int) -> str:
    return _encode(f"{_REVISION_TAG}{_SEPARATOR}{revision}")


def decode_revision_cursor(cursor: str) -> int:
    try:
        tag, _, number = _decode(cursor).partition(_SEPARATOR)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise _invalid() from exc
    revision = revision_number(number) if tag == _REVISION_TAG else None
    if revision is None:
        raise _invalid()
    return revision

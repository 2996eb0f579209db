"""The opaque listing cursor: the (updated_at, save_id) of the last row a page showed.

It is opaque to clients so the keyset can change without breaking them; it is not signed because it only
narrows a query already scoped to the caller's own saves.
"""

from __future__ import annotations

import base64
import binascii
import uuid
from datetime import datetime

from services.shared.errors import ApiError

_SEPARATOR = "|"


def encode_cursor(updated_at: datetime, save_id: uuid.UUID) -> str:
    raw = f"{updated_at.isoformat()}{_SEPARATOR}{save_id}".encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, uuid.UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        stamp, save_id = raw.split(_SEPARATOR)
        updated_at = datetime.fromisoformat(stamp)
        if updated_at.tzinfo is None:
            raise ValueError("cursor timestamp has no timezone")
        return updated_at, uuid.UUID(save_id)
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise ApiError(422, "invalid_cursor", "the cursor is malformed; restart from the first page") from exc

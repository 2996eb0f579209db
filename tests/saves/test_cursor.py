from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from services.saves.cursor import decode_cursor, decode_revision_cursor, encode_cursor, encode_revision_cursor
from services.shared.errors import ApiError

# Fixed, not uuid4(): parameters make test ids, which every pytest-xdist worker must collect alike.
SOME_ID = uuid.UUID("7485721f-1fd9-4062-b0b3-d189dd27a6c1")


def test_cursor_round_trips_the_last_row_position() -> None:
    updated_at = datetime(2025, 11, 26, 12, 30, 15, 123456, tzinfo=UTC)
    save_id = uuid.uuid4()
    cursor = encode_cursor(updated_at, save_id)
    assert "=" not in cursor and "/" not in cursor and "+" not in cursor
    assert decode_cursor(cursor) == (updated_at, save_id)


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        "bm90aGluZw",  # "nothing": no separator
        encode_cursor(datetime(2025, 1, 1, tzinfo=UTC), SOME_ID)[:-6],
        "MjAyNS0wMS0wMVQwMDowMDowMHx4",  # a date without timezone and an invalid uuid
    ],
)
def test_malformed_cursor_is_a_422_invalid_cursor(cursor: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_cursor(cursor)
    assert (caught.value.status, caught.value.code) == (422, "invalid_cursor")


def test_revision_cursor_round_trips_the_last_revision_shown() -> None:
    cursor = encode_revision_cursor(41)
    assert "=" not in cursor and "41" not in cursor
    assert decode_revision_cursor(cursor) == 41


@pytest.mark.parametrize(
    "cursor",
    [
        "not base64 at all!",
        encode_cursor(datetime(2025, 1, 1, tzinfo=UTC), SOME_ID),  # a saves cursor
        encode_revision_cursor(41)[:-2],
        encode_revision_cursor(0),
        encode_revision_cursor(2**31),  # beyond the column's range
    ],
)
def test_malformed_revision_cursor_is_a_422_invalid_cursor(cursor: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_revision_cursor(cursor)
    assert (caught.value.status, caught.value.code) == (422, "invalid_cursor")

from __future__ import annotations

import hashlib

from services.shared.apikeys import hash_key


def test_hash_is_the_sha256_hex_the_saves_service_stores() -> None:
    key = "est_abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"
    assert hash_key(key) == hashlib.sha256(key.encode()).hexdigest()
    assert hash_key(key) != hash_key(key.upper())

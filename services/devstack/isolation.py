"""How test runs and benchmarks on one machine keep out of each other's Redis data.

Each run claims a Redis DB number with `SET NX` on a key in DB 0 (expiring, so a crashed run frees
it eventually). Tests and benchmarks claim from the same set of keys, so they never share a DB.
"""

from __future__ import annotations

CLAIM_TTL_S = 3 * 3600
DB_NUMBERS = range(1, 16)


def claim_key(db: int) -> str:
    return f"estimator:db-claim:{db}"

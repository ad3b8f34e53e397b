"""Idempotency keys, chosen once at planning time and stored in the ledger (its `handle`
column, named before the word meant a user's handle).

Mastodon: an Idempotency-Key per part (a UUID4). Bluesky: a record key per part, which must
be a TID (13 characters of base32-sortable: 53-bit microseconds since the epoch, 10-bit
clock id).
"""

from __future__ import annotations

import secrets
import time
import uuid

_B32_SORTABLE = "234567abcdefghijklmnopqrstuvwxyz"


def tid(microseconds: int, clock_id: int) -> str:
    value = ((microseconds & ((1 << 53) - 1)) << 10) | (clock_id & 0x3FF)
    chars = []
    for _ in range(13):
        chars.append(_B32_SORTABLE[value & 31])
        value >>= 5
    return "".join(reversed(chars))


def new_keys(platform: str, count: int) -> list[str]:
    """One idempotency key per part of a thread: TIDs in order (Bluesky), else UUIDs."""
    if platform == "bluesky":
        start = time.time_ns() // 1000
        clock = secrets.randbelow(1024)
        return [tid(start + n, clock) for n in range(count)]
    return [str(uuid.uuid4()) for _ in range(count)]


# The former name, still imported by bench/bench_publish.py; remove when it follows.

"""The hash of one audit entry: pure functions shared by appending and verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

GENESIS = "0" * 64

# The columns an entry's hash covers, in order; the previous hash closes the tuple.
HASHED = (
    "seq",
    "at",
    "actor",
    "role",
    "action",
    "subject_id",
    "fields",
    "purpose",
    "decision",
    "reason",
)


def entry_hash(row: Sequence[object], prev_hash: str) -> str:
    """Hash an entry's hashed columns (in :data:`HASHED` order) chained to ``prev_hash``."""
    encoded = json.dumps([*row, prev_hash], separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(encoded.encode()).hexdigest()

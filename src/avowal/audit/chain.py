"""The hash of one audit entry: pure functions shared by appending and verification."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence

GENESIS = "0" * 64

# The encoder json.dumps(..., separators=(",", ":"), ensure_ascii=False) builds on every call, built
# once: verification hashes every entry of the chain.
_encode = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_sha256 = hashlib.sha256

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
    return _sha256(_encode([*row, prev_hash]).encode()).hexdigest()

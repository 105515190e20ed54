"""The hash of one audit entry: pure functions shared by appending and verification."""

from __future__ import annotations

import hashlib
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

# Values are joined with the unit separator, each tagged "s" (a value) or "n" (NULL). Appends
# never store the separator (see clean), so a value smuggling one in makes the separator count
# wrong and the entry fails verification instead of colliding with another split of the columns.
SEP = "\x1f"
_PARTS = len(HASHED) + 1
_sha256 = hashlib.sha256
_BROKEN = "!" * 64  # never equal to a hex digest


def clean(value: str) -> str:
    """Return a text value as it can be stored and hashed (no unit separator in it)."""
    return value.replace(SEP, " ") if SEP in value else value


def entry_hash(row: Sequence[object], prev_hash: str) -> str:
    """Hash an entry's hashed columns (in :data:`HASHED` order) chained to ``prev_hash``."""
    encoded = SEP.join(["n" if v is None else f"s{v}" for v in row] + [prev_hash])
    if encoded.count(SEP) != _PARTS - 1:
        return _BROKEN
    return _sha256(encoded.encode()).hexdigest()

"""PostgreSQL advisory locks held until the transaction ends, named by text.

Several server and worker processes share one PostgreSQL database; an advisory lock lets them
take turns on work no row lock covers (a site-day's recomputation, moving a rollup mark, the
ingest against a worker pass). SQLite has a single writer: there, each function does nothing.
"""

from __future__ import annotations

import hashlib

from sqlalchemy import text
from sqlalchemy.orm import Session


def key_of(name: str) -> int:
    """Return the advisory lock key of ``name`` (a signed 64-bit digest)."""
    digest = hashlib.sha256(name.encode("utf-8", "surrogatepass")).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def hold(session: Session, name: str, *, shared: bool = False) -> None:
    """Take the lock ``name`` until the session's transaction ends (waiting for it if need be);
    ``shared`` holders only exclude an exclusive one. Nothing on SQLite."""
    if session.get_bind().dialect.name != "postgresql":
        return
    function = "pg_advisory_xact_lock_shared" if shared else "pg_advisory_xact_lock"
    session.execute(text(f"SELECT {function}(:key)"), {"key": key_of(name)})

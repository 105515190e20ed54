"""Verify a long chain in parallel ranges, one process each; doubt goes to the sequential walk.

Each entry stores the hash of the one before it, so ranges of the chain can be checked apart and
stitched at their ends. This path only ever confirms an intact chain: at the first doubt it hands
over to :func:`avowal.audit.service.verify`, which names the entry that was tampered with.
"""

from __future__ import annotations

import hashlib
import multiprocessing
import sqlite3
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, text
from sqlalchemy.orm import Session

from avowal.audit import chain
from avowal.audit import service as audit

# Below this many entries, starting processes costs more than it saves.
MIN_PARALLEL = 50_000
_COLUMNS = ", ".join((*chain.HASHED, "prev_hash", "entry_hash"))
_HEAD = text(
    "SELECT h.seq, h.hash, (SELECT count(*) FROM audit_entries e WHERE e.seq <= h.seq), "
    "(SELECT max(e.seq) FROM audit_entries e) FROM audit_head h WHERE h.id = 1"
)

Range = tuple[bool, str, str]  # intact, prev_hash of its first entry, hash of its last entry


def verify(
    session: Session, checkpoints: Iterable[tuple[int, str]] = (), workers: int = 2
) -> audit.Verification:
    """Verify the chain with ``workers`` processes when it is long; same answers as the walk."""
    marks = dict(checkpoints)
    bind = session.get_bind()
    head = session.execute(_HEAD).one_or_none()
    if workers < 2 or not isinstance(bind, Engine) or head is None:
        return audit.verify(session, marks.items())
    n, digest, count, top = head
    if n < MIN_PARALLEL or count != n or (top or 0) > n or any(s > n for s in marks):
        return audit.verify(session, marks.items())
    bounds = [(1 + n * k // workers, n * (k + 1) // workers) for k in range(workers)]
    target = _target(bind)
    context = multiprocessing.get_context("fork")
    with context.Pool(workers) as pool:
        parts: list[Range] = pool.starmap(
            _walk,
            [
                (target, lo, hi, {s: h for s, h in marks.items() if lo <= s <= hi})
                for lo, hi in bounds
            ],
        )
    prev = chain.GENESIS
    for ok, first_prev, last in parts:
        if not ok or first_prev != prev:
            return audit.verify(session, marks.items())
        prev = last
    if prev != digest:
        return audit.verify(session, marks.items())
    return audit.Verification(True, int(n), int(n))


def _target(engine: Engine) -> tuple[str, str]:
    url = engine.url
    if url.get_backend_name() == "sqlite":
        return "sqlite", str(url.database)
    return "postgresql", url.set(drivername="postgresql").render_as_string(hide_password=False)


def _walk(target: tuple[str, str], lo: int, hi: int, marks: dict[int, str]) -> Range:
    kind, where = target
    sql = f"SELECT {_COLUMNS} FROM audit_entries WHERE seq >= %s AND seq <= %s ORDER BY seq"
    conn: Any
    if kind == "sqlite":
        conn = sqlite3.connect(f"file:{where}?mode=ro", uri=True)
        cur = conn.cursor()
        cur.execute(sql.replace("%s", "?"), (lo, hi))
    else:
        import psycopg

        conn = psycopg.connect(where)
        cur = conn.cursor(name="avowal_audit_walk")  # server-side: rows stream
        cur.execute(sql, (lo, hi))
    # chain.entry_hash, inlined: this loop is the whole cost of verifying a long chain.
    sep, separators, sha256 = chain.SEP, len(chain.HASHED), hashlib.sha256
    expected, first_prev, prev = lo, "", ""
    try:
        while rows := cur.fetchmany(10_000):
            for row in rows:
                if row[0] != expected:
                    return False, first_prev, prev
                if expected == lo:
                    first_prev = prev = row[10]
                elif row[10] != prev:
                    return False, first_prev, prev
                encoded = sep.join(["n" if v is None else f"s{v}" for v in row[:10]])
                if encoded.count(sep) != separators - 1:
                    return False, first_prev, prev
                digest = sha256(f"{encoded}{sep}{prev}".encode()).hexdigest()
                if digest != row[11] or (marks and marks.get(expected, digest) != digest):
                    return False, first_prev, prev
                prev = digest
                expected += 1
        return expected == hi + 1, first_prev, prev
    finally:
        cur.close()
        conn.close()

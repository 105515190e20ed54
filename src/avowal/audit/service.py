"""Append to the audit chain in the caller's transaction, and verify it."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from sqlalchemy import insert, text
from sqlalchemy.orm import Session

from avowal.audit import chain
from avowal.audit.models import AuditEntry


@dataclass(frozen=True)
class Event:
    """What happened, by whom, to whom, for what: never a personal value."""

    actor: str
    role: str
    action: str
    decision: str = "allow"
    subject_id: str | None = None
    fields: Sequence[str] = ()
    purpose: str | None = None
    reason: str | None = None


def now_iso() -> str:
    """Return the current UTC time as stored in the chain."""
    return dt.datetime.now(dt.UTC).isoformat(timespec="microseconds").replace("+00:00", "Z")


_ADVANCE = text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash")
_SET_HASH = text("UPDATE audit_head SET hash = :hash WHERE id = 1")


def append(session: Session, event: Event) -> int:
    """Append one entry in the session's transaction; return its sequence number."""
    return append_many(session, [event])[-1]


def append_many(session: Session, events: Iterable[Event]) -> list[int]:
    """Append entries in order in the session's transaction, as one batch.

    The head row's UPDATE takes a row lock held to commit, so concurrent writers (several server
    processes on PostgreSQL) queue behind each other and the chain never forks.
    """
    batch = list(events)
    if not batch:
        return []
    last_seq, prev = session.execute(_ADVANCE, {"n": len(batch)}).one()
    seq = int(last_seq) - len(batch)
    at = now_iso()
    rows = []
    for ev in batch:
        seq += 1
        hashed = (
            seq,
            at,
            ev.actor,
            ev.role,
            ev.action,
            ev.subject_id,
            json.dumps(sorted(ev.fields)),
            ev.purpose,
            ev.decision,
            ev.reason,
        )
        digest = chain.entry_hash(hashed, prev)
        rows.append(
            {
                **dict(zip(chain.HASHED, hashed, strict=True)),
                "prev_hash": prev,
                "entry_hash": digest,
            }
        )
        prev = digest
    session.execute(insert(AuditEntry), rows)
    session.execute(_SET_HASH, {"hash": prev})
    return [int(r["seq"]) for r in rows]


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    ok: bool
    count: int
    head_seq: int
    first_bad: int | None = None
    problem: str | None = None


_COLUMNS = ", ".join((*chain.HASHED, "prev_hash", "entry_hash"))


def verify(session: Session, checkpoints: Iterable[tuple[int, str]] = ()) -> Verification:
    """Walk the chain in order and name the first entry changed, removed, inserted or reordered.

    ``checkpoints`` are (seq, hash) pairs kept outside the database; they catch a rewrite of the
    whole chain, which the chain alone cannot.
    """
    marks = dict(checkpoints)
    head_seq, head_hash = session.execute(
        text("SELECT seq, hash FROM audit_head WHERE id = 1")
    ).one()
    result = session.execute(
        text(f"SELECT {_COLUMNS} FROM audit_entries ORDER BY seq"),
        execution_options={"yield_per": 5000},
    )
    expected, prev, count = 1, chain.GENESIS, 0
    entry_hash = chain.entry_hash
    for row in result:
        seq = row[0]
        if seq != expected:
            return _bad(count, head_seq, expected, f"entry {expected} is missing (removed)")
        if row[10] != prev:
            return _bad(
                count,
                head_seq,
                seq,
                f"entry {seq} does not follow entry {seq - 1} "
                "(an entry was inserted, removed or reordered here)",
            )
        digest = entry_hash(row[:10], prev)
        if digest != row[11]:
            return _bad(count, head_seq, seq, f"entry {seq} was changed after it was written")
        mark = marks.get(seq)
        if mark is not None and mark != digest:
            return _bad(
                count,
                head_seq,
                seq,
                f"entry {seq} differs from the signed checkpoint (the chain was rewritten)",
            )
        prev = digest
        expected += 1
        count += 1
    if count != head_seq or prev != head_hash:
        return _bad(
            count,
            head_seq,
            count + 1,
            f"the chain ends at entry {count} but its head "
            f"says {head_seq} (entries were removed from the end, or the head altered)",
        )
    beyond = [s for s in marks if s > count]
    if beyond:
        return _bad(
            count,
            head_seq,
            count + 1,
            f"a signed checkpoint covers entry {max(beyond)} "
            f"but the chain ends at {count} (entries were removed)",
        )
    return Verification(True, count, int(head_seq))


def _bad(count: int, head_seq: int, seq: int, problem: str) -> Verification:
    return Verification(False, count, int(head_seq), seq, problem)


def head(session: Session) -> tuple[int, str]:
    """Return the chain's last sequence number and hash."""
    seq, digest = session.execute(text("SELECT seq, hash FROM audit_head WHERE id = 1")).one()
    return int(seq), str(digest)

"""Append to the audit chain in the caller's transaction, and verify it."""

from __future__ import annotations

import json
import weakref
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import cast

from sqlalchemy import Engine, Table, insert, text
from sqlalchemy.orm import Session

from avowal.audit import chain
from avowal.audit.chain import clean
from avowal.audit.models import AuditEntry, AuditVerification
from avowal.lib import clock
from avowal.lib.errors import AvowalError


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
    return clock.now().isoformat(timespec="microseconds").replace("+00:00", "Z")


_ADVANCE = text("UPDATE audit_head SET seq = seq + :n WHERE id = 1 RETURNING seq, hash")
_SET_HASH = text("UPDATE audit_head SET hash = :hash WHERE id = 1")
# Moves the head from the (seq, hash) this process last wrote to the batch's end in one statement,
# only if nobody moved it since: another process's append, a rolled-back batch of this one, a
# restore. Under READ COMMITTED an UPDATE waiting for another's row lock re-checks its WHERE on
# the committed row, so a moved head matches nothing and the append takes the reading path.
_ADVANCE_FROM = text(
    "UPDATE audit_head SET seq = :last, hash = :hash WHERE id = 1 AND seq = :seq AND hash = :prev"
)
_INSERT = insert(cast(Table, AuditEntry.__table__))
# PostgreSQL only (SQLite has no data-modifying WITH): the guessed head moved and one entry
# inserted in one round trip; the entry goes in only if the head moved, and RETURNING says so.
_ROW_KEYS = (*chain.HASHED, "prev_hash", "entry_hash")
_ADVANCE_FROM_AND_INSERT = text(
    "WITH head AS (UPDATE audit_head SET seq = :last, hash = :hash "
    "WHERE id = 1 AND seq = :guess_seq AND hash = :guess_hash RETURNING seq) "
    f"INSERT INTO audit_entries ({', '.join(_ROW_KEYS)}) SELECT "
    # Typed, as an INSERT ... SELECT of parameters needs on PostgreSQL; TEXT, not the column's
    # VARCHAR(n), which would cut an overlong value silently instead of refusing it.
    + ", ".join(f"CAST(:{k} AS {'BIGINT' if k == 'seq' else 'TEXT'})" for k in _ROW_KEYS)
    + " FROM head RETURNING seq"
)
# The head each database was last moved to by this process: (seq, hash). A guess that saves the
# read of the head; a wrong guess costs one statement that changes nothing.
_last_head: weakref.WeakKeyDictionary[Engine, tuple[int, str]] = weakref.WeakKeyDictionary()


def append(session: Session, event: Event) -> int:
    """Append one entry in the session's transaction; return its sequence number."""
    return append_many(session, [event])[-1]


def append_many(session: Session, events: Iterable[Event]) -> list[int]:
    """Append entries in order in the session's transaction, as one batch.

    The head row's UPDATE takes a row lock held to commit, so concurrent writers (several server
    processes on PostgreSQL) queue behind each other and the chain never forks. When the head is
    where this process last left it, one conditional UPDATE both checks and moves it; otherwise
    the head is read as it is (advanced and returned), then its hash set.
    """
    batch = list(events)
    if not batch:
        return []
    # Flush the session's pending changes first: a failing write surfaces here, and no row lock
    # the flush has to wait for (a person's row, held by another request that is itself waiting
    # for the head) is taken while the head is held: the head is always the last lock taken.
    session.flush()
    # Plain statements on the session's connection: the Session would only pass them through.
    conn = session.connection()
    guess = _last_head.get(conn.engine)
    if guess is not None:
        first = guess[0] + 1
        rows, last = _entries(batch, first, guess[1])
        moved = {"last": first + len(batch) - 1, "hash": last}
        if len(batch) == 1 and conn.dialect.name == "postgresql":
            one = {**rows[0], **moved, "guess_seq": guess[0], "guess_hash": guess[1]}
            if conn.execute(_ADVANCE_FROM_AND_INSERT, one).first() is not None:
                _last_head[conn.engine] = (first, last)
                return [first]
            guess = None
        elif (
            conn.execute(_ADVANCE_FROM, {**moved, "seq": guess[0], "prev": guess[1]}).rowcount != 1
        ):
            guess = None
    if guess is None:
        last_seq, prev = conn.execute(_ADVANCE, {"n": len(batch)}).one()
        first = int(last_seq) - len(batch) + 1
        rows, last = _entries(batch, first, str(prev))
        conn.execute(_SET_HASH, {"hash": last})
    # A Core executemany: the ORM's bulk insert splits the batch wherever a nullable column
    # switches between None and a value, one statement per run.
    conn.execute(_INSERT, rows)
    _last_head[conn.engine] = (first + len(batch) - 1, last)
    return list(range(first, first + len(batch)))


def _entries(batch: list[Event], first: int, prev: str) -> tuple[list[dict[str, object]], str]:
    """Return the rows of a batch numbered from ``first`` and chained to ``prev``, and the last
    entry's hash."""
    at = now_iso()
    entry_hash = chain.entry_hash
    rows: list[dict[str, object]] = []
    for seq, ev in enumerate(batch, first):
        hashed = (
            seq,
            at,
            clean(ev.actor),
            clean(ev.role),
            clean(ev.action),
            ev.subject_id and clean(ev.subject_id),
            json.dumps(sorted(ev.fields)),
            ev.purpose and clean(ev.purpose),
            clean(ev.decision),
            ev.reason and clean(ev.reason),
        )
        digest = entry_hash(hashed, prev)
        rows.append(dict(zip(_ROW_KEYS, (*hashed, prev, digest), strict=True)))
        prev = digest
    return rows, prev


def refuse(
    session: Session,
    exc: AvowalError,
    *,
    actor: str,
    role: str,
    action: str,
    subject_id: str | None = None,
    fields: Sequence[str] = (),
    purpose: str | None = None,
) -> AvowalError:
    """Audit a refusal (decision deny, its message as reason) and return it to be raised.

    The entry survives the failed request: the session is committed for a refusal that carries
    ``keep_audit``, which this sets.
    """
    append(
        session,
        Event(
            actor=actor,
            role=role,
            action=action,
            decision="deny",
            subject_id=subject_id,
            fields=fields,
            purpose=purpose,
            reason=exc.message,
        ),
    )
    exc.keep_audit = True
    return exc


@dataclass(frozen=True)
class Verification:
    """The outcome of walking the chain."""

    ok: bool
    count: int
    head_seq: int
    first_bad: int | None = None
    problem: str | None = None


_COLUMNS = ", ".join((*chain.HASHED, "prev_hash", "entry_hash"))
# The head is read in the same statement as the entries, so both come from one snapshot: on
# PostgreSQL each statement of a READ COMMITTED transaction sees its own, and servers may be
# appending while the chain is verified. (Subqueries, not a join, keep the primary-key order.)
_WALK = text(
    f"SELECT {_COLUMNS}, (SELECT h.seq FROM audit_head h WHERE h.id = 1) AS head_seq, "
    "(SELECT h.hash FROM audit_head h WHERE h.id = 1) AS head_hash "
    "FROM audit_entries ORDER BY audit_entries.seq"
)
_HEAD_IF_EMPTY = text(
    "SELECT seq, hash, EXISTS (SELECT 1 FROM audit_entries) FROM audit_head WHERE id = 1"
)


def record_verification(session: Session, entries: int, seconds: float, ok: bool) -> None:
    """Record that the whole chain was verified now (the policy page shows the last one)."""
    session.add(
        AuditVerification(at=clock.now(), entries=entries, seconds=round(seconds, 3), ok=ok)
    )


def verify(session: Session, checkpoints: Iterable[tuple[int, str]] = ()) -> Verification:
    """Walk the chain in order and name the first entry changed, removed, inserted or reordered.

    ``checkpoints`` are (seq, hash) pairs kept outside the database; they catch a rewrite of the
    whole chain, which the chain alone cannot.
    """
    marks = dict(checkpoints)
    result = session.execute(_WALK, execution_options={"yield_per": 5000})
    top: tuple[int | None, str | None] | None = None
    expected, prev, count = 1, chain.GENESIS, 0
    entry_hash = chain.entry_hash
    # Close the (on PostgreSQL, server-side) cursor even when the walk stops at a bad entry.
    with result:
        for row in result:
            head_seq = row[12]
            top = (head_seq, row[13])
            if head_seq is None:  # entries but no head row
                break
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
    if top is None:  # no entries at all when the walk began
        found = session.execute(_HEAD_IF_EMPTY).one_or_none()
        if found is not None and found[2]:
            return verify(session, marks.items())  # the first entries were appended since
        top = (None, None) if found is None else (found[0], found[1])
    head_seq, head_hash = top
    if head_seq is None:
        return _bad(count, 0, count + 1, "the chain's head row is missing (audit_head was altered)")
    if count != head_seq or prev != head_hash:
        return _bad(
            count,
            head_seq,
            min(count, head_seq) + 1,
            f"the chain ends at entry {count} but its head says {head_seq} (entries were removed "
            "from the end or added past the head, or the head altered)",
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

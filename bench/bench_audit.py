"""Audit chain: append and verification throughput, each beside an unhashed raw baseline.

Appending hashes every entry into the chain and advances the head row; the baseline inserts the
same columns into an unchained table with one executemany. Verification re-hashes every entry in
order; the baseline reads every column of every entry, in order, and does nothing with them.
The targets are absolute rates, so unlike the ratios they move with the machine and its load.
"""

from __future__ import annotations

import itertools
import os
from collections.abc import Callable

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, insert, text

from avowal.audit import parallel
from avowal.audit import service as audit
from avowal.audit.service import Event
from avowal.db.engine import purge_wal
from bench.timing import compare
from bench.world import rate_line, world

BATCH = 1_000
CHAIN = 200_000
APPEND_TARGET = 20_000
VERIFY_TARGET = 300_000

meta = MetaData()
plain = Table(
    "bench_plain_audit",
    meta,
    Column("seq", Integer, primary_key=True),
    Column("at", String(32)),
    Column("actor", String(200)),
    Column("role", String(64)),
    Column("action", String(32)),
    Column("subject_id", String(36), index=True),
    Column("fields", Text),
    Column("purpose", String(200)),
    Column("decision", String(8)),
    Column("reason", Text),
)

# Every column of every entry, in order: what verification has to read whatever else it does.
WALK = text(
    "SELECT seq, at, actor, role, action, subject_id, fields, purpose, decision, reason, "
    "prev_hash, entry_hash FROM audit_entries ORDER BY seq"
)

_ids = (f"{i:08d}-0000-4000-8000-000000000000" for i in itertools.count())


def _events(n: int) -> list[Event]:
    """Return ``n`` events shaped like the vault's reads."""
    return [
        Event(
            actor="support-desk",
            role="support",
            action="read",
            subject_id=next(_ids),
            fields=("name", "email", "phone", "address", "birth_date"),
            purpose="essential.service.operations.support",
            reason="withheld: card" if i % 4 == 0 else None,
        )
        for i in range(n)
    ]


def _plain_rows(events: list[Event]) -> list[dict[str, object]]:
    at = audit.now_iso()
    return [
        {
            "at": at,
            "actor": e.actor,
            "role": e.role,
            "action": e.action,
            "subject_id": e.subject_id,
            "fields": '["address","birth_date","email","name","phone"]',
            "purpose": e.purpose,
            "decision": e.decision,
            "reason": e.reason,
        }
        for e in events
    ]


def _ratio_line(name: str, ratio: float) -> str:
    return f"  {name:<34} {ratio:12.2f}x"


def run() -> None:
    """Print entries per second for batched and single appends, and for verification."""
    with world() as w:
        meta.create_all(w.engine)
        sessions = w.sessions

        def chained(n: int) -> Callable[[], object]:
            def go() -> None:
                events = _events(n)
                with sessions() as s, s.begin():
                    audit.append_many(s, events)

            return go

        def raw(n: int) -> Callable[[], object]:
            def go() -> None:
                events = _events(n)
                with sessions() as s, s.begin():
                    s.execute(insert(plain), _plain_rows(events))

            return go

        t = compare({"raw": raw(BATCH), "chained": chained(BATCH)}, rounds=7, repeat=3)
        print(f"  batches of {BATCH:,} entries, one transaction each")
        print(rate_line("append_many", BATCH / t["chained"], APPEND_TARGET))
        print(rate_line("raw executemany, no hashing", BATCH / t["raw"]))
        print(_ratio_line("append_many / raw", t["chained"] / t["raw"]))

        t = compare({"raw": raw(1), "chained": chained(1)}, rounds=7, repeat=30)
        print("  one entry per transaction (each commit waits for the disk)")
        print(rate_line("append", 1 / t["chained"]))
        print(rate_line("raw insert, no hashing", 1 / t["raw"]))
        print(_ratio_line("append / raw", t["chained"] / t["raw"]))

        with sessions() as s:
            have = audit.head(s)[0]
        for start in range(have, CHAIN, 20_000):
            with sessions() as s, s.begin():
                audit.append_many(s, _events(min(20_000, CHAIN - start)))
        purge_wal(w.engine)

        def verify() -> None:
            with sessions() as s:
                result = audit.verify(s)
            assert result.ok and result.count == CHAIN, result

        def walk() -> None:
            with sessions() as s:
                for _row in s.execute(WALK, execution_options={"yield_per": 5000}):
                    pass

        workers = os.cpu_count() or 1

        def verify_parallel() -> None:
            with sessions() as s:
                result = parallel.verify(s, workers=workers)
            assert result.ok and result.count == CHAIN, result

        t = compare(
            {"walk": walk, "verify": verify, "parallel": verify_parallel}, rounds=3, repeat=1
        )
        print(f"  verification of a chain of {CHAIN:,} entries")
        print(
            rate_line(
                f"verify, {workers} processes (audit verify)", CHAIN / t["parallel"], VERIFY_TARGET
            )
        )
        print(rate_line("verify, one sequential walk", CHAIN / t["verify"]))
        print(rate_line("walk the rows, no hashing", CHAIN / t["walk"]))
        print(_ratio_line("sequential verify / walk", t["verify"] / t["walk"]))

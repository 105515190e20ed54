"""Vault: an enforced read against raw SQLAlchemy; erasing a large person against a small one.

The enforced read decrypts one person's eight values, checks the purpose of each and appends an
audit entry, in one transaction. The baseline reads eight plaintext columns of one row by primary
key and inserts one row into an unchained audit-like table, in one transaction; both go through a
Session, as every request does. The database holds 1,000 people so indexes matter. Both are timed
twice: with durable commits (the default, where the disk's flush weighs on both sides alike) and
with ``PRAGMA synchronous=OFF``, which leaves the processor time enforcement adds.

Erasure destroys a person's data key and lookup rows and keeps a tombstone; their encrypted values
stay (crypto-shredding). A person with 10,000 values is erased once with as many lookup rows as
the small person (2), once with one lookup row per five values (2,000), as at the example's
collection points: deleting lookup rows is the part of erasure that grows.
"""

from __future__ import annotations

import datetime as dt
import itertools
import os
import uuid
from collections.abc import Callable, Iterator
from typing import Any

from sqlalchemy import Column, Integer, MetaData, String, Table, Text, event, insert, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.audit.service import now_iso
from avowal.crypto import cipher
from avowal.db.engine import make_engine, make_sessionmaker, purge_wal
from avowal.vault import access, collection, erasure, notices
from avowal.vault.models import BlindIndex, PersonalValue, Receipt, Subject
from avowal.vault.schemas import CollectRequest
from bench.timing import compare
from bench.world import World, world

PEOPLE = 1_000
READ_TARGET = 1.5
ERASE_TARGET = 2.0
BIG, SMALL = 10_000, 10
VALUES_PER_POINT = 5
ERASE_ROUNDS, ERASE_REPEAT = 5, 3
SMALL_NAME = f"erase {SMALL:,} values, 2 lookup rows"
BIG_NAME = f"erase {BIG:,} values, 2 lookup rows"
BIG_INDEXED_NAME = f"erase {BIG:,} values, {BIG // VALUES_PER_POINT:,} lookup rows"

PLAIN_FIELDS = (
    "name",
    "email",
    "phone",
    "address",
    "birth_date",
    "job_title",
    "country",
    "postal_code",
)
meta = MetaData()
plain = Table(
    "bench_plain",
    meta,
    Column("id", String(36), primary_key=True),
    *(Column(f, Text) for f in PLAIN_FIELDS),
)
plain_audit = Table(
    "bench_plain_audit",
    meta,
    Column("seq", Integer, primary_key=True),
    Column("at", String(32)),
    Column("actor", String(200)),
    Column("action", String(32)),
    Column("subject_id", String(36), index=True),
    Column("fields", Text),
    Column("purpose", String(200)),
)


def _person(i: int) -> dict[str, str]:
    return {
        "name": f"Person Number {i}",
        "email": f"person{i}@example.com",
        "phone": f"+1 555-{i:07d}",
        "address": f"{i} Example Street, Springfield",
        "birth_date": f"19{50 + i % 50}-0{1 + i % 9}-1{i % 10}",
        "job_title": "Engineer" if i % 2 else "Accountant",
        "country": "CA" if i % 3 else "US",
        "postal_code": f"K1A {i % 10}B{i % 7}",
    }


def _populate(w: World) -> list[str]:
    """Collect 1,000 people at registration and copy their values into the plain table."""
    backend = w.caller("web_backend")
    notice_id = notices.notice(w.loaded, "registration")["notice_id"]
    ids: list[str] = []
    meta.create_all(w.engine)
    for start in range(0, PEOPLE, 100):
        with w.sessions() as s, s.begin():
            rows = []
            for i in range(start, start + 100):
                person = _person(i)
                body = CollectRequest.model_validate(
                    {"notice_id": notice_id, "subject": {"ref": f"user-{i}"}, "values": person}
                )
                sid = collection.collect(s, w.loaded, w.secrets, backend, "registration", body)[
                    "subject_id"
                ]
                ids.append(sid)
                rows.append({"id": sid, **person})
            s.execute(insert(plain), rows)
    return ids


def _read_contenders(
    w: World, sessions: sessionmaker[Session], ids: list[str]
) -> dict[str, Callable[[], object]]:
    support = w.caller("support")
    purpose = "essential.service.operations.support"
    enforced_ids, raw_ids, plain_ids = (itertools.cycle(ids) for _ in range(3))
    by_id = select(*(plain.c[f] for f in PLAIN_FIELDS))

    def enforced() -> None:
        with sessions() as s, s.begin():
            out = access.read(s, w.loaded, w.secrets, support, next(enforced_ids), purpose)
            assert len(out["values"]) == 8, out

    def raw() -> None:
        sid = next(raw_ids)
        with sessions() as s, s.begin():
            s.execute(by_id.where(plain.c.id == sid)).one()
            s.execute(
                insert(plain_audit),
                {
                    "at": now_iso(),
                    "actor": support.name,
                    "action": "read",
                    "subject_id": sid,
                    "fields": '["address","birth_date"]',
                    "purpose": purpose,
                },
            )

    def plain_read() -> None:
        sid = next(plain_ids)
        with sessions() as s, s.begin():
            s.execute(by_id.where(plain.c.id == sid)).one()

    return {"raw read+audit row": raw, "plain read alone": plain_read, "enforced read": enforced}


def _people_with(w: World, how_many: int, values_each: int, lookups_each: int) -> list[str]:
    """Insert people holding ``values_each`` encrypted values and ``lookups_each`` lookup rows.

    Values come five to a collection point, as at the example's registration and purchase; the
    lookup rows (blind indexes, which erasure deletes) go to the first points.
    """
    now = dt.datetime.now(dt.UTC)
    subjects: list[dict[str, Any]] = []
    receipts: list[dict[str, Any]] = []
    values: list[dict[str, Any]] = []
    index: list[dict[str, Any]] = []
    for _ in range(how_many):
        sid = str(uuid.uuid4())
        key_id, wrapped = w.secrets.keyring.wrap(cipher.new_data_key(), sid)
        subjects.append(
            {"id": sid, "ref": None, "created_at": now, "key_id": key_id, "wrapped_key": wrapped}
        )
        for p in range(values_each // VALUES_PER_POINT):
            rid = str(uuid.uuid4())
            point = f"point_{p}"
            receipts.append(
                {
                    "id": rid,
                    "subject_id": sid,
                    "point": point,
                    "notice_id": "0" * 64,
                    "policy_version": w.loaded.version_id,
                    "document": {"receipt_id": rid},
                    "signature": "bench",
                }
            )
            values += [
                {
                    "subject_id": sid,
                    "receipt_id": rid,
                    "point": point,
                    "field": f"field_{f}",
                    "purposes": ["essential.service"],
                    "recipients": [],
                    "notice_id": "0" * 64,
                    "ciphertext": os.urandom(48),
                    "collected_at": now,
                }
                for f in range(VALUES_PER_POINT)
            ]
            if p < lookups_each:
                index.append(
                    {"subject_id": sid, "point": point, "field": "email", "digest": os.urandom(32)}
                )
    with w.sessions() as s, s.begin():
        s.execute(insert(Subject), subjects)
        s.execute(insert(Receipt), receipts)
        s.execute(insert(PersonalValue), values)
        s.execute(insert(BlindIndex), index)
    return [row["id"] for row in subjects]


def _erase_contenders(w: World) -> dict[str, Callable[[], object]]:
    officer = w.caller("privacy_officer")
    wanted = ERASE_ROUNDS * ERASE_REPEAT
    people = {
        SMALL_NAME: iter(_people_with(w, wanted, SMALL, 2)),
        BIG_NAME: iter(_people_with(w, wanted, BIG, 2)),
        BIG_INDEXED_NAME: iter(_people_with(w, wanted, BIG, BIG // VALUES_PER_POINT)),
    }
    _checkpoint(w)

    def eraser(queue: Iterator[str]) -> Callable[[], object]:
        def erase() -> None:
            with w.sessions() as s, s.begin():
                erasure.erase(s, w.loaded, officer, next(queue))

        return erase

    return {name: eraser(queue) for name, queue in people.items()}


def _checkpoint(w: World) -> None:
    """Fold the set-up's writes into the database, so the first timed commit does not pay it."""
    purge_wal(w.engine)


def _verdict(ratio: float, target: float) -> str:
    return f"target <= {target}x  {'PASS' if ratio <= target else 'MISS'}"


def _no_sync(dbapi_conn: Any, _record: Any) -> None:
    dbapi_conn.execute("PRAGMA synchronous=OFF")


def _compare_reads(w: World, sessions: sessionmaker[Session], ids: list[str]) -> None:
    timings = compare(_read_contenders(w, sessions, ids), rounds=7, repeat=20)
    raw, alone, enforced = (
        timings["raw read+audit row"],
        timings["plain read alone"],
        timings["enforced read"],
    )
    for name, secs in timings.items():
        print(f"    {name:<38} {secs * 1000:8.3f} ms")
    ratio = enforced / raw
    print(f"    enforced / raw read+audit row  {ratio:6.2f}x  {_verdict(ratio, READ_TARGET)}")
    print(f"    enforced / plain read alone    {enforced / alone:6.2f}x")


def run() -> None:
    """Print the cost of enforcement on a read, and of erasing a person with many values."""
    with world() as w:
        ids = _populate(w)
        _checkpoint(w)
        print(f"  read one person's 8 values among {PEOPLE:,}, one transaction each")
        print("  - commits wait for the disk (the default): the figure the target is about")
        _compare_reads(w, w.sessions, ids)
        # The disk's flush time is shared by both sides and varies from run to run; without it
        # the ratio shows the processor time enforcement adds.
        unsynced = make_engine(w.settings)
        event.listen(unsynced, "connect", _no_sync)
        print("  - PRAGMA synchronous=OFF: processor time only")
        _compare_reads(w, make_sessionmaker(unsynced), ids)
        unsynced.dispose()

        print("  erasure, one transaction each (a fresh person every time)")
        timings = compare(_erase_contenders(w), rounds=ERASE_ROUNDS, repeat=ERASE_REPEAT)
        for name, secs in timings.items():
            print(f"    {name:<38} {secs * 1000:8.3f} ms")
        small = timings[SMALL_NAME]
        for name in (BIG_NAME, BIG_INDEXED_NAME):
            ratio = timings[name] / small
            label = f"{name.removeprefix('erase ')} / {SMALL:,} values"
            print(f"    {label:<44} {ratio:6.2f}x  {_verdict(ratio, ERASE_TARGET)}")

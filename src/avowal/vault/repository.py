"""Vault queries. The read path uses Core statements: it runs on every access to personal data."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Sequence
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, and_, bindparam, delete, exists, insert, select, text, update
from sqlalchemy.orm import Session
from sqlalchemy.orm.util import identity_key

from avowal.children.models import ParentalConsent
from avowal.consent.models import CookieConsentLink
from avowal.db import engine as db
from avowal.db import upsert
from avowal.lifecycle.models import Acceptance
from avowal.mail.news_models import Objection
from avowal.vault.models import BlindIndex, Disclosure, PersonalValue, Receipt, Subject


def subject(session: Session, subject_id: str, *, lock: bool = False) -> Subject | None:
    """Return a subject (tombstones included) by id; ``lock`` holds its row to commit.

    The lock serialises all work on one person across processes on PostgreSQL (SELECT ... FOR
    UPDATE); SQLite has one writer at a time, and every transaction takes the write lock first.
    """
    if not lock:
        return session.get(Subject, subject_id)
    stmt = select(Subject).where(Subject.id == subject_id).with_for_update()
    return session.scalar(stmt.execution_options(populate_existing=True))


_ID_BY_REF = select(Subject.__table__.c.id).where(Subject.__table__.c.ref == bindparam("ref"))


def id_by_ref(session: Session, ref: str) -> str | None:
    """Return the id of the subject with the site's own user id, or None."""
    return db.core(session).execute(_ID_BY_REF, {"ref": ref}).scalar()


class KeyRow(NamedTuple):
    """A subject's key columns: what tells whether the person is living."""

    erased_at: dt.datetime | None
    key_id: str | None
    wrapped_key: bytes | None
    # Read with the values (key_and_values) and only there: when the person was first collected,
    # and whether any parental consent request or objection of theirs exists. True means "look":
    # where unread, the answer is not known, and the caller asks the table itself.
    created_at: dt.datetime | None = None
    minor: bool = True
    objected: bool = True
    last_activity_at: dt.datetime | None = None
    closed_at: dt.datetime | None = None


class ValueRow(NamedTuple):
    """One held value of a person and what it may be used for."""

    point: str
    field: str
    purposes: list[str]
    recipients: list[str]
    notice_id: str
    receipt_id: str
    ciphertext: bytes | None
    collected_at: dt.datetime


# Built once over the tables' columns: the read path runs them on every access, and both building
# a statement and the ORM's handling of one cost more than running it on an indexed table.
_subjects = Subject.__table__.c
_values = PersonalValue.__table__.c
_VALUE_COLUMNS = tuple(getattr(_values, name) for name in ValueRow._fields)
# The subject's key, whether they have parental consent requests or objections (which the read
# path asks about next only when they exist), and their values in one round trip; a subject
# without values gives one row whose value columns are NULL.
_consents = ParentalConsent.__table__.c
_objections = Objection.__table__.c


def _asks(subject_id: Any) -> tuple[Any, Any]:
    """Return whether the person has any parental consent request, and any objection: the two
    flags a read gives with the person (KeyRow.minor and .objected, IndexHit's too)."""
    return (
        exists().where(_consents.subject_id == subject_id),
        exists().where(_objections.subject_id == subject_id),
    )


def _beside_person(child: Any, *columns: Any) -> Any:
    """The statement of ``columns`` for the person ``:subject_id`` beside each of their rows in
    ``child`` (one row, the child's columns NULL, when they have none)."""
    return (
        select(*columns)
        .select_from(Subject.__table__.outerjoin(child, child.c.subject_id == _subjects.id))
        .where(_subjects.id == bindparam("subject_id"))
    )


_KEY_AND_VALUES = _beside_person(
    PersonalValue.__table__,
    _subjects.erased_at,
    _subjects.key_id,
    _subjects.wrapped_key,
    _subjects.created_at,
    *_asks(_subjects.id),
    _subjects.last_activity_at,
    _subjects.closed_at,
    *_VALUE_COLUMNS,
).order_by(_values.collected_at)
_KEY_COLUMNS = len(KeyRow._fields)
# Locks the subject's row only (FOR UPDATE OF subjects): the values' side of the join may be NULL.
_KEY_AND_VALUES_LOCKED = _KEY_AND_VALUES.with_for_update(of=Subject.__table__)


def key_and_values(
    session: Session, subject_id: str, *, lock: bool = False
) -> tuple[KeyRow | None, list[ValueRow]]:
    """Return a subject's key columns, or None, and its current values; ``lock`` as subject()."""
    stmt = _KEY_AND_VALUES_LOCKED if lock else _KEY_AND_VALUES
    rows = db.core(session).execute(stmt, {"subject_id": subject_id}).all()
    if not rows:
        return None, []
    first = rows[0]
    key = KeyRow(
        first[0], first[1], first[2], first[3], bool(first[4]), bool(first[5]), first[6], first[7]
    )
    return key, [ValueRow(*row[_KEY_COLUMNS:]) for row in rows if row[_KEY_COLUMNS] is not None]


_LOCK_KEY = (
    select(_subjects.erased_at, _subjects.key_id, _subjects.wrapped_key)
    .where(_subjects.id == bindparam("subject_id"))
    .with_for_update()
)


def lock_key(session: Session, subject_id: str) -> KeyRow | None:
    """Return a subject's key columns, or None, holding their row to commit (as subject())."""
    row = db.core(session).execute(_LOCK_KEY, {"subject_id": subject_id}).first()
    return None if row is None else KeyRow(row[0], row[1], row[2])


def keys_of(session: Session, subject_ids: Sequence[str]) -> dict[str, KeyRow]:
    """Return the key columns of those of these subjects that exist."""
    stmt = select(_subjects.id, _subjects.erased_at, _subjects.key_id, _subjects.wrapped_key).where(
        _subjects.id.in_(list(subject_ids))
    )
    return {row[0]: KeyRow(*row[1:]) for row in session.execute(stmt)}


_ADD_SUBJECT: dict[str, Any] = {}  # per dialect, built once


def add_subject(session: Session, subject: Subject) -> bool:
    """Insert a new person's row unless their ``ref`` is taken; tell whether it was inserted.

    ``subject`` stays outside the session (a plain record of the row written). A concurrent
    first collection for the same ref makes this one insert nothing: on PostgreSQL the insert
    waits for the other's commit, then skips.
    """
    dialect = session.get_bind().dialect.name
    stmt = _ADD_SUBJECT.get(dialect)
    if stmt is None:
        # RETURNING says whether a row went in (psycopg's rowcount does not, for this statement).
        stmt = _ADD_SUBJECT[dialect] = (
            upsert.dialect_insert(session, Subject.__table__)
            .on_conflict_do_nothing(index_elements=[_subjects.ref])
            .returning(_subjects.id)
        )
    row = {c.key: getattr(subject, c.key) for c in _subjects}
    return db.core(session).execute(stmt, row).first() is not None


def add_values(
    session: Session, held: list[dict[str, object]], digests: list[dict[str, object]]
) -> None:
    """Insert a collection's values and lookup digests, each table in one multi-row INSERT."""
    conn = db.core(session)  # the receipt the values point at goes first
    # One multi-row INSERT each: one round trip on PostgreSQL, where an executemany is several.
    for table, rows in ((PersonalValue.__table__, held), (BlindIndex.__table__, digests)):
        if rows:
            conn.execute(_rows_insert(cast(Table, table), tuple(rows[0]), len(rows)), _flat(rows))


_ROWS_INSERTS: dict[tuple[str, tuple[str, ...], int], Any] = {}


def _rows_insert(table: Table, columns: tuple[str, ...], count: int) -> Any:
    """Return an INSERT of ``count`` rows of these columns, built once for each shape.

    Written as text with typed parameters: SQLAlchemy compiles a multi-row ``insert().values()``
    again at every execution (it is not cached), which costs more than the round trips saved.
    """
    key = (table.name, columns, count)
    stmt = _ROWS_INSERTS.get(key)
    if stmt is None:
        rows = ", ".join("(" + ", ".join(f":{c}__{i}" for c in columns) + ")" for i in range(count))
        stmt = _ROWS_INSERTS[key] = text(
            f"INSERT INTO {table.name} ({', '.join(columns)}) VALUES {rows}"
        ).bindparams(
            *(bindparam(f"{c}__{i}", type_=table.c[c].type) for i in range(count) for c in columns)
        )
    return stmt


def _flat(rows: list[dict[str, object]]) -> dict[str, object]:
    return {f"{c}__{i}": v for i, row in enumerate(rows) for c, v in row.items()}


def replace_values(session: Session, subject_id: str, point: str, fields: Sequence[str]) -> None:
    """Destroy the current values of these fields at this point (superseded by a new collection)."""
    destroy_values(session, subject_id, [(point, field) for field in fields])


# Built once: the fields as one expanding parameter keep a single cached compiled form.
_DESTROY = tuple(
    delete(cast(Table, model.__table__)).where(
        model.subject_id == bindparam("subject_id"),
        model.point == bindparam("point"),
        model.field.in_(bindparam("fields", expanding=True)),
    )
    for model in (PersonalValue, BlindIndex)
)


def destroy_values(session: Session, subject_id: str, held: Sequence[tuple[str, str]]) -> None:
    """Destroy a person's values and lookup digests at these (point, field) pairs: one statement
    per table and point."""
    by_point: dict[str, list[str]] = {}
    for point, field in held:
        by_point.setdefault(point, []).append(field)
    if not by_point:
        return
    conn = db.core(session)  # changes made to these rows in this session go first
    for point, fields in by_point.items():
        for stmt in _DESTROY:
            conn.execute(stmt, {"subject_id": subject_id, "point": point, "fields": fields})


_SET_PURPOSES = (
    update(cast(Table, PersonalValue.__table__))
    .where(
        _values.subject_id == bindparam("of_subject"),
        _values.point == bindparam("at_point"),
        _values.field == bindparam("at_field"),
    )
    .values(purposes=bindparam("new_purposes"))
)


def set_purposes(
    session: Session, subject_id: str, changed: Sequence[tuple[str, str, list[str]]]
) -> None:
    """Set the purposes of a person's values at these (point, field, purposes), one executemany."""
    if changed:
        db.core(session).execute(
            _SET_PURPOSES,
            [
                {"of_subject": subject_id, "at_point": p, "at_field": f, "new_purposes": purposes}
                for p, f, purposes in changed
            ],
        )


def values_at(session: Session, subject_id: str, point: str) -> list[PersonalValue]:
    """Return a person's values held at a point, to change the terms they are held under."""
    stmt = (
        select(PersonalValue)
        .where(PersonalValue.subject_id == subject_id, PersonalValue.point == point)
        .order_by(PersonalValue.field)
    )
    return list(session.scalars(stmt))


class IndexHit(NamedTuple):
    """A living person whose lookup field has the digest, and what that value was collected for."""

    subject_id: str
    point: str
    purposes: list[str]
    # Whether the person has any parental consent request, or any objection (as in KeyRow).
    minor: bool = True
    objected: bool = True


_bi = BlindIndex.__table__.c
# Built once: the lookup path runs it on every search.
_FIND_BY_DIGEST = (
    select(
        _bi.subject_id,
        _bi.point,
        _values.purposes,
        *_asks(_bi.subject_id),
    )
    .select_from(
        BlindIndex.__table__.join(Subject.__table__, _subjects.id == _bi.subject_id).join(
            PersonalValue.__table__,
            and_(
                _values.subject_id == _bi.subject_id,
                _values.point == _bi.point,
                _values.field == _bi.field,
            ),
        )
    )
    .where(
        _bi.field == bindparam("field"),
        _bi.digest == bindparam("digest"),
        _subjects.erased_at.is_(None),
    )
    .order_by(_bi.subject_id, _bi.point)
)


def find_by_digest(session: Session, field: str, digest: bytes) -> list[IndexHit]:
    """Return the living subjects whose lookup field has this digest, with the value's purposes
    and whether they have parental consent requests or objections."""
    rows = db.core(session).execute(_FIND_BY_DIGEST, {"field": field, "digest": digest})
    return [
        IndexHit(sid, point, purposes, bool(minor), bool(objected))
        for sid, point, purposes, minor, objected in rows
    ]


_DROP_INDEX = delete(cast(Table, BlindIndex.__table__)).where(
    BlindIndex.__table__.c.subject_id == bindparam("subject_id")
)
_TOMBSTONE = (
    update(cast(Table, Subject.__table__))
    .where(_subjects.id == bindparam("subject_id"))
    .values(
        wrapped_key=None,
        key_id=None,
        ref=None,
        erased_at=bindparam("erased_at", type_=_subjects.erased_at.type),
    )
)


def tombstone(session: Session, subject_id: str, erased_at: dt.datetime) -> None:
    """Destroy a person's wrapped data key, ref and lookup digests, keeping the row as a
    tombstone erased at ``erased_at`` (crypto-shredding: their values can never be read)."""
    conn = db.core(session)
    conn.execute(_DROP_INDEX, {"subject_id": subject_id})
    conn.execute(_TOMBSTONE, {"subject_id": subject_id, "erased_at": erased_at})
    held = session.identity_map.get(identity_key(Subject, subject_id))
    if held is not None:  # a copy the session holds is read again when next used
        session.expire(held)


def receipt(session: Session, receipt_id: str) -> Receipt | None:
    """Return a receipt by id."""
    return session.get(Receipt, receipt_id)


def disclosures_of(session: Session, subject_id: str) -> list[Disclosure]:
    """Return a subject's disclosure register, oldest first."""
    stmt = select(Disclosure).where(Disclosure.subject_id == subject_id).order_by(Disclosure.at)
    return list(session.scalars(stmt))


class DisclosureRow(NamedTuple):
    """One entry of a person's disclosure register."""

    id: str
    recipient: str
    purpose: str
    fields: list[str]
    receipt_ids: list[str]
    actor: str
    at: dt.datetime


_disclosures = Disclosure.__table__.c
_REGISTER = (
    select(_subjects.id, *(getattr(_disclosures, name) for name in DisclosureRow._fields))
    .select_from(
        Subject.__table__.outerjoin(Disclosure.__table__, _disclosures.subject_id == _subjects.id)
    )
    .where(_subjects.id == bindparam("subject_id"))
    .order_by(_disclosures.at)
)


def register_of(session: Session, subject_id: str) -> list[DisclosureRow] | None:
    """Return a subject's disclosure register, oldest first, or None when there is no such
    subject (erased people included), in one statement."""
    rows = db.core(session).execute(_REGISTER, {"subject_id": subject_id}).all()
    if not rows:
        return None
    return [DisclosureRow(*row[1:]) for row in rows if row[1] is not None]


_INSERT_DISCLOSURE = insert(cast(Table, Disclosure.__table__))


def add_disclosure(session: Session, **row: Any) -> dict[str, Any]:
    """Record a disclosure (a new id given here); return the row written."""
    written = {"id": str(uuid.uuid4()), **row}
    db.core(session).execute(_INSERT_DISCLOSURE, written)
    return written


class ReceiptRow(NamedTuple):
    """A receipt as the person's export and the console show it."""

    id: str
    point: str
    notice_id: str
    document: dict[str, object]
    signature: str


class Records(NamedTuple):
    """A person's receipts, and whether they have any disclosures, policy acceptances or linked
    cookie consents (True: look in that table)."""

    receipts: list[ReceiptRow]
    disclosed: bool
    accepted: bool
    linked: bool


_receipts = Receipt.__table__.c
_RECORDS = _beside_person(
    Receipt.__table__,
    exists().where(Disclosure.__table__.c.subject_id == _subjects.id),
    exists().where(Acceptance.__table__.c.subject_id == _subjects.id),
    exists().where(CookieConsentLink.__table__.c.subject_id == _subjects.id),
    _receipts.id,
    _receipts.point,
    _receipts.notice_id,
    _receipts.document,
    _receipts.signature,
)


def records_of(session: Session, subject_id: str) -> Records:
    """Return a person's receipts in the order they were issued, and which other records of
    theirs exist, in one statement (the export asks only the tables that hold something)."""
    rows = db.core(session).execute(_RECORDS, {"subject_id": subject_id}).all()
    if not rows:
        return Records([], False, False, False)
    held = [ReceiptRow(*row[3:]) for row in rows if row[3] is not None]
    # issued_at lives in the signed document only; ISO 8601 UTC strings sort by time.
    held.sort(key=lambda r: str(r.document.get("issued_at", "")))
    first = rows[0]
    return Records(held, bool(first[0]), bool(first[1]), bool(first[2]))


_RECEIPTS = select(
    _receipts.id, _receipts.point, _receipts.notice_id, _receipts.document, _receipts.signature
).where(_receipts.subject_id == bindparam("subject_id"))


def receipts_of(session: Session, subject_id: str) -> list[ReceiptRow]:
    """Return a subject's receipts, in the order they were issued."""
    rows = [
        ReceiptRow(*row) for row in db.core(session).execute(_RECEIPTS, {"subject_id": subject_id})
    ]
    # issued_at lives in the signed document only; ISO 8601 UTC strings sort by time.
    return sorted(rows, key=lambda r: str(r.document.get("issued_at", "")))

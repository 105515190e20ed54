"""Vault queries. The read path uses Core statements: it runs on every access to personal data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import cast

from sqlalchemy import bindparam, delete, select
from sqlalchemy.orm import Session

from avowal.vault.models import BlindIndex, Disclosure, PersonalValue, Receipt, Subject


def subject(session: Session, subject_id: str) -> Subject | None:
    """Return a subject (tombstones included) by id."""
    return session.get(Subject, subject_id)


def subject_by_ref(session: Session, ref: str) -> Subject | None:
    """Return a subject by the site's own user id."""
    return session.scalar(select(Subject).where(Subject.ref == ref))


ValueRow = tuple[str, str, list[str], list[str], str, str, bytes | None, dt.datetime]
KeyRow = tuple[dt.datetime | None, str | None, bytes | None]

# Built once over the tables' columns: the read path runs them on every access, and both building
# a statement and the ORM's handling of one cost more than running it on an indexed table.
_subjects = Subject.__table__.c
_values = PersonalValue.__table__.c
_VALUE_COLUMNS = (
    _values.point,
    _values.field,
    _values.purposes,
    _values.recipients,
    _values.notice_id,
    _values.receipt_id,
    _values.ciphertext,
    _values.collected_at,
)
# The subject's key and its values in one round trip; a subject without values gives one row
# whose value columns are NULL.
_KEY_AND_VALUES = (
    select(_subjects.erased_at, _subjects.key_id, _subjects.wrapped_key, *_VALUE_COLUMNS)
    .select_from(
        Subject.__table__.outerjoin(PersonalValue.__table__, _values.subject_id == _subjects.id)
    )
    .where(_subjects.id == bindparam("subject_id"))
    .order_by(_values.collected_at)
)


def _autoflush(session: Session) -> None:
    # A statement over plain columns skips the ORM's autoflush: do it here, so values added in
    # this session and not yet flushed are seen as an ORM query would see them.
    if session.autoflush:
        session.flush()


def key_and_values(session: Session, subject_id: str) -> tuple[KeyRow | None, list[ValueRow]]:
    """Return a subject's (erased_at, key_id, wrapped_key), or None, and its current values."""
    _autoflush(session)
    rows = session.execute(_KEY_AND_VALUES, {"subject_id": subject_id}).all()
    if not rows:
        return None, []
    key = cast(KeyRow, tuple(rows[0][:3]))
    return key, [cast(ValueRow, tuple(row[3:])) for row in rows if row[3] is not None]


def replace_values(session: Session, subject_id: str, point: str, fields: Sequence[str]) -> None:
    """Destroy the current values of these fields at this point (superseded by a new collection)."""
    session.execute(
        delete(PersonalValue).where(
            PersonalValue.subject_id == subject_id,
            PersonalValue.point == point,
            PersonalValue.field.in_(fields),
        )
    )
    session.execute(
        delete(BlindIndex).where(
            BlindIndex.subject_id == subject_id,
            BlindIndex.point == point,
            BlindIndex.field.in_(fields),
        )
    )


def find_by_digest(session: Session, field: str, digest: bytes) -> list[str]:
    """Return the ids of living subjects whose lookup field has this digest."""
    stmt = (
        select(BlindIndex.subject_id)
        .join(Subject, Subject.id == BlindIndex.subject_id)
        .where(BlindIndex.field == field, BlindIndex.digest == digest, Subject.erased_at.is_(None))
        .distinct()
    )
    return list(session.scalars(stmt))


def drop_index(session: Session, subject_id: str) -> None:
    """Delete every blind-index row of a subject."""
    session.execute(delete(BlindIndex).where(BlindIndex.subject_id == subject_id))


def receipt(session: Session, receipt_id: str) -> Receipt | None:
    """Return a receipt by id."""
    return session.get(Receipt, receipt_id)


def disclosures_of(session: Session, subject_id: str) -> list[Disclosure]:
    """Return a subject's disclosure register, oldest first."""
    stmt = select(Disclosure).where(Disclosure.subject_id == subject_id).order_by(Disclosure.at)
    return list(session.scalars(stmt))


def receipts_of(session: Session, subject_id: str) -> list[Receipt]:
    """Return a subject's receipts, in the order they were issued."""
    stmt = select(Receipt).where(Receipt.subject_id == subject_id)
    rows = list(session.scalars(stmt))
    # issued_at lives in the signed document only; ISO 8601 UTC strings sort by time.
    return sorted(rows, key=lambda r: str(r.document.get("issued_at", "")))

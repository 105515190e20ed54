"""Vault queries. The read path uses Core statements: it runs on every access to personal data."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from sqlalchemy import Row, delete, select
from sqlalchemy.orm import Session

from avowal.vault.models import BlindIndex, Disclosure, PersonalValue, Receipt, Subject


def subject(session: Session, subject_id: str) -> Subject | None:
    """Return a subject (tombstones included) by id."""
    return session.get(Subject, subject_id)


def subject_by_ref(session: Session, ref: str) -> Subject | None:
    """Return a subject by the site's own user id."""
    return session.scalar(select(Subject).where(Subject.ref == ref))


def values_of(
    session: Session, subject_id: str
) -> Sequence[Row[str, str, list[str], list[str], str, str, bytes | None, dt.datetime]]:
    """Return the current values of a subject with what each was collected for."""
    stmt = (
        select(
            PersonalValue.point,
            PersonalValue.field,
            PersonalValue.purposes,
            PersonalValue.recipients,
            PersonalValue.notice_id,
            PersonalValue.receipt_id,
            PersonalValue.ciphertext,
            PersonalValue.collected_at,
        )
        .where(PersonalValue.subject_id == subject_id)
        .order_by(PersonalValue.collected_at)
    )
    return session.execute(stmt).all()


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

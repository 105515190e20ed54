"""The one rule of the parental lock: is this person a minor whose parent has not yet consented.

Every read, lookup, disclosure and communication asks it (:mod:`avowal.vault.access`,
:mod:`avowal.mail.service`); the console shows a locked person as locked, with
:func:`why_locked`.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import NamedTuple, cast

from sqlalchemy import Table, bindparam, case, select, update
from sqlalchemy.orm import Session

from avowal.children.models import ParentalConsent
from avowal.db import engine as db
from avowal.lib import clock

PENDING, CONFIRMING, CONSENTED = "pending", "confirming", "consented"
REFUSED, EXPIRED, REVOKED = "refused", "expired", "revoked"
STATUSES = (PENDING, CONFIRMING, CONSENTED, REFUSED, EXPIRED, REVOKED)
# Until the confirmation is sent, nothing of the child's is usable.
LOCKING = (PENDING, CONFIRMING)
# The reason a read gives for a locked person's values.
REASON = "parental_consent_pending"
WHY_SHORT = "a minor whose parent or guardian has not consented yet"


def lock_of(session: Session, subject_id: str) -> ParentalConsent | None:
    """Return the open parental consent request that locks a person, or None."""
    return session.scalar(
        select(ParentalConsent)
        .where(ParentalConsent.subject_id == subject_id, ParentalConsent.status.in_(LOCKING))
        .limit(1)
    )


def locked_among(session: Session, subject_ids: Iterable[str]) -> set[str]:
    """Return which of these people are locked, in one query."""
    ids = sorted(set(subject_ids))
    if not ids:
        return set()
    return set(
        session.scalars(
            select(ParentalConsent.subject_id).where(
                ParentalConsent.subject_id.in_(ids), ParentalConsent.status.in_(LOCKING)
            )
        )
    )


def why_locked(row: ParentalConsent) -> str:
    """Say why a person's values are withheld, for the API and the console alike."""
    if row.status == CONFIRMING:
        return (
            "a minor: their parent consented; the values are usable once the confirmation is "
            f"sent ({clock.iso(clock.aware(row.confirm_at))})"
            if row.confirm_at is not None
            else "a minor: their parent consented; waiting for the confirmation"
        )
    return (
        "a minor: locked until their parent or guardian consents (asked by e-mail; erased if "
        f"they refuse or do not answer by {clock.iso(clock.aware(row.expires_at))})"
    )


_consents = cast(Table, ParentalConsent.__table__)
_open = _consents.c.status.in_(LOCKING)
# On erasure, in one statement: every request's parent address and nonces destroyed, an open one
# closed (revoked when the parent had consented and the confirmation was not yet sent, else
# expired). Each CASE reads the row as it was.
_FORGET = (
    update(_consents)
    .where(_consents.c.subject_id == bindparam("of_subject"))
    .values(
        parent_address=None,
        answer_nonce=None,
        revoke_nonce=None,
        status=case(
            (_consents.c.status == CONFIRMING, REVOKED),
            (_open, EXPIRED),
            else_=_consents.c.status,
        ),
        closed_at=case(
            (_open, bindparam("now", type_=_consents.c.closed_at.type)),
            else_=_consents.c.closed_at,
        ),
    )
)


def forget(session: Session, subject_id: str) -> None:
    """On any erasure of a person: close their open request, destroying the parent's address."""
    db.core(session).execute(_FORGET, {"of_subject": subject_id, "now": clock.now()})
    # Rows of theirs the session holds are read again when next used.
    for obj in list(session.identity_map.values()):
        if isinstance(obj, ParentalConsent) and obj.subject_id == subject_id:
            session.expire(obj)


class Standing(NamedTuple):
    """A person's parental standing: the request locking them, and what their parent refused."""

    lock: ParentalConsent | None
    refused: list[str]


NOT_A_MINOR = Standing(None, [])


def standing(session: Session, subject_id: str) -> Standing:
    """Return in one query whether a person is locked and which purposes their parent refused
    (what a read and an explicit consent both need)."""
    rows = session.scalars(
        select(ParentalConsent).where(
            ParentalConsent.subject_id == subject_id,
            ParentalConsent.status.in_((*LOCKING, CONSENTED)),
        )
    ).all()
    if not rows:
        return NOT_A_MINOR
    lock = next((r for r in rows if r.status in LOCKING), None)
    refused = [p for r in rows if r.status == CONSENTED for p in r.refused_purposes]
    return Standing(lock, refused)

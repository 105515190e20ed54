"""The one rule of objections: has this person objected to a use (or a broader one).

Sending news (:mod:`avowal.mail.news`) and purpose-bound reads and lookups
(:mod:`avowal.vault.access`) ask it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import cast

from sqlalchemy import Table, bindparam, insert, select
from sqlalchemy.orm import Session

from avowal.db import engine as db
from avowal.lib import clock
from avowal.mail.news_models import Objection
from avowal.policy.taxonomy import is_within

VIAS = ("header", "page", "api", "center", "console")
# The reason a read gives for an objector's values.
REASON = "objected"


def _covering(purpose: str, objected: Iterable[str]) -> bool:
    return any(is_within(purpose, p) for p in objected)


_PURPOSES_OF = select(Objection.__table__.c.purpose).where(
    Objection.__table__.c.subject_id == bindparam("subject_id")
)


def objects_to(session: Session, subject_id: str, purpose: str) -> bool:
    """Tell whether a person objected to ``purpose`` or a use it lies within."""
    held = db.core(session).execute(_PURPOSES_OF, {"subject_id": subject_id}).scalars()
    return _covering(purpose, held)


def objectors_among(session: Session, subject_ids: Iterable[str], purpose: str) -> set[str]:
    """Return which of these people objected to ``purpose``, in one query."""
    ids = sorted(set(subject_ids))
    if not ids:
        return set()
    rows = session.execute(
        select(Objection.subject_id, Objection.purpose).where(Objection.subject_id.in_(ids))
    )
    return {s for s, p in rows if is_within(purpose, p)}


def record(
    session: Session, subject_id: str, purpose: str, via: str, now: dt.datetime | None = None
) -> bool:
    """Record an objection once; return whether it is new (a repeated one changes nothing)."""
    if objects_to(session, subject_id, purpose):
        return False
    row = {"subject_id": subject_id, "purpose": purpose, "at": clock.current(now), "via": via}
    db.core(session).execute(_INSERT, row)
    return True


_INSERT = insert(cast(Table, Objection.__table__))

"""When a person's retention periods start: their last activity, and their account's closure.

The person is active when they give data (a collection) or sign in (a service token reading
their data for authentication); the site tells avowal when they close their account.
"""

from __future__ import annotations

import datetime as dt
from typing import cast

from sqlalchemy import Table, bindparam, func, update
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.db import engine as db
from avowal.lib import clock
from avowal.lifecycle import acceptance
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import SERVING_THE_PERSON
from avowal.vault.exceptions import ClosureNotAllowed
from avowal.vault.models import Subject
from avowal.vault.schemas import Closed
from avowal.vault.subjects import LIVING, living_subject


def touch(subject: Subject, now: dt.datetime) -> None:
    """Record the person's activity now (they gave data)."""
    subject.last_activity_at = now


def after_read(
    session: Session, loaded: LoadedPolicy, caller: Caller, subject_id: str, purpose: str
) -> None:
    """Record the person's activity when the read is them signing in."""
    if acceptance.signs_in(loaded, caller, purpose):
        session.execute(
            update(Subject).where(Subject.id == subject_id).values(last_activity_at=clock.now())
        )


_subjects = cast(Table, Subject.__table__)
# The first closure counts; only a living person's row changes (and is held to commit).
_CLOSE = (
    update(_subjects)
    .where(_subjects.c.id == bindparam("subject_id"), LIVING)
    .values(
        closed_at=func.coalesce(
            _subjects.c.closed_at, bindparam("now", type_=_subjects.c.closed_at.type)
        )
    )
    .returning(_subjects.c.closed_at)
)


def close(session: Session, caller: Caller, subject_id: str) -> Closed:
    """Record that the person closed their account (the first time counts); only the back end
    serving them may say so."""
    if not caller.grants(SERVING_THE_PERSON):
        exc = ClosureNotAllowed(
            f"role '{caller.role}' may not close accounts: only roles granting "
            f"{SERVING_THE_PERSON} (the site's back end) may",
            role=caller.role,
        )
        raise audit.refuse(
            session,
            exc,
            actor=caller.name,
            role=caller.role,
            action="close",
            subject_id=subject_id,
        )
    now = clock.now()
    # One statement checks the person is living, holds their row and records the first closure.
    closed_at = (
        db.core(session)
        .execute(
            _CLOSE,
            {"subject_id": subject_id, "now": now},
        )
        .scalar()
    )
    if closed_at is None:
        living_subject(session, subject_id)  # refuses the unknown (404) or erased (410)
        raise AssertionError("a living person's closure returned no time")  # pragma: no cover
    again = clock.aware(closed_at) != now
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="close",
            subject_id=subject_id,
            reason="already closed" if again else None,
        ),
    )
    return Closed(subject_id=subject_id, closed_at=clock.iso(closed_at))

"""Acceptance of policy versions, explicit or by continued use once notified: a record only.

An acceptance never widens what held data may be used for. Values keep the purposes of the
notice they were collected under; only the person's explicit consent to a collection point's new
notice (``POST /v1/subjects/{id}/consents``) extends them. Continued use is recorded when the
person first interacts (an authenticated read, a collection) after a version they were told of
takes effect, and nothing else follows from it.

Erasure deletes a person's acceptances and change notifications (:func:`forget`): they would
tie the tombstone to what the person did. The audit chain still says an acceptance was recorded
(action ``accept``, the version), as it keeps every access.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from collections.abc import Sequence

from sqlalchemy import bindparam, delete, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.db import engine as db
from avowal.lib import clock, text
from avowal.lifecycle import repository
from avowal.lifecycle.acceptance_exceptions import (
    AlreadyAccepted,
    PurposeNotForAcceptances,
    VersionNotOpen,
)
from avowal.lifecycle.acceptance_schemas import AcceptanceList, AcceptanceRead, Shown
from avowal.lifecycle.exceptions import UnknownVersion
from avowal.lifecycle.models import Acceptance, ChangeNotification, PolicyVersion
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import SERVING_THE_PERSON, is_within
from avowal.vault import records
from avowal.vault.models import Subject
from avowal.vault.subjects import living_subject

# The back end serving the person relays their acceptance and reads their record of it.
# A read for this use means the person signed in: an interaction of their own.
AUTHENTICATION = "essential.service.authentication"
EXPLICIT = "explicit"
CONTINUED_USE = "continued_use"


def changes_digest(changes: Sequence[object]) -> str:
    """Return the SHA-256 of a version's stored changes as canonical JSON."""
    canonical = json.dumps(changes, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def shown_for(version: PolicyVersion, notice: str | None) -> Shown:
    """Return what a person accepting ``version`` was shown, told through ``notice``."""
    return Shown(
        version_id=version.version_id,
        notice=notice,
        material=version.material,
        changes_digest=changes_digest(version.changes),
    )


def as_read(row: Acceptance) -> AcceptanceRead:
    """Return a stored acceptance as the API shows it."""
    return AcceptanceRead(
        acceptance_id=row.id,
        subject_id=row.subject_id,
        version_id=row.version_id,
        method=EXPLICIT if row.method == EXPLICIT else CONTINUED_USE,
        at=clock.aware(row.at),
        shown=Shown.model_validate(row.shown),
        actor=row.actor,
    )


def _existing(session: Session, subject_id: str, version_id: str) -> Acceptance | None:
    stmt = select(Acceptance).where(
        Acceptance.subject_id == subject_id, Acceptance.version_id == version_id
    )
    return session.scalars(stmt).first()


def _insert(session: Session, row: Acceptance) -> bool:
    """Store an acceptance unless one exists already (the unique constraint decides races)."""
    try:
        with session.begin_nested():
            session.add(row)
        return True
    except IntegrityError:
        return False


def _open_version(session: Session, version_id: str, now: dt.datetime) -> PolicyVersion:
    """Return the version if it is in effect or announced; refuse an unknown or superseded one."""
    version = repository.get(session, version_id)
    if version is None:
        raise UnknownVersion(f"no policy version {version_id}", version_id=version_id)
    current = repository.in_effect(session, now)
    if clock.aware(version.effective_at) > now or (
        current is not None and current.version_id == version.version_id
    ):
        return version
    raise VersionNotOpen(
        f"version {version_id[:12]} is no longer in effect; accept the version in effect "
        f"({current.version_id[:12] if current else 'none'}) or an announced one",
        version_id=version_id,
        in_effect=current.version_id if current else None,
    )


def _already(found: Acceptance) -> AlreadyAccepted:
    return AlreadyAccepted(
        f"the person accepted version {found.version_id[:12]} already "
        f"({found.method}, {clock.iso(found.at)})",
        version_id=found.version_id,
        method=found.method,
        accepted_at=clock.iso(found.at),
    )


def accept_explicitly(
    session: Session,
    caller: Caller,
    subject_id: str,
    version_id: str,
    shown: str | None,
    now: dt.datetime | None = None,
) -> AcceptanceRead:
    """Record that a person explicitly accepted a version in effect or announced."""
    now = clock.current(now)
    if not any(is_within(p, SERVING_THE_PERSON) for p in caller.purposes):
        exc = PurposeNotGranted(
            f"role '{caller.role}' grants no use within {SERVING_THE_PERSON}: only the back end "
            "serving the person records their acceptance",
            purpose=SERVING_THE_PERSON,
            role=caller.role,
            granted=list(caller.purposes),
        )
        raise audit.refuse(
            session,
            exc,
            actor=caller.name,
            role=caller.role,
            action="accept",
            subject_id=subject_id,
        )
    living_subject(session, subject_id, lock=True)
    version = _open_version(session, version_id, now)
    found = _existing(session, subject_id, version_id)
    if found is not None:
        raise _already(found)
    notice = text.check(shown, "shown") if shown is not None else None
    row = Acceptance(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        version_id=version_id,
        method=EXPLICIT,
        at=now,
        shown=shown_for(version, notice).model_dump(mode="json"),
        actor=caller.name,
    )
    if not _insert(session, row):
        found = _existing(session, subject_id, version_id)
        assert found is not None
        raise _already(found)
    _audit(session, caller.name, caller.role, row)
    return as_read(row)


def _audit(session: Session, actor: str, role: str, row: Acceptance) -> None:
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="accept",
            subject_id=row.subject_id,
            reason=f"version {row.version_id[:12]} ({row.method})",
        ),
    )


def _accepts_continued_use(version: PolicyVersion) -> bool:
    """Tell whether the version's policy says continued use after notice accepts it."""
    rule = version.document.get("changes")
    return isinstance(rule, dict) and rule.get("continued_use_accepts") is True


def record_continued_use(
    session: Session,
    subject_id: str,
    now: dt.datetime | None = None,
    *,
    actor: str = "continued use",
    role: str = "service",
) -> AcceptanceRead | None:
    """Record acceptance by continued use of the version in effect, when it applies.

    It applies when the version took effect after the person's data was first collected (they
    lived under an earlier one), they were told of it before it took effect, they have not
    accepted it yet, and its policy says continued use accepts it. Returns the record, or None.
    """
    now = clock.current(now)
    # On every sign-in read: the cheap checks first, the version's document (deferred) only when
    # the person was notified.
    version = repository.in_effect(session, now)
    if version is None or version.previous_id is None:
        return None
    effective_at = clock.aware(version.effective_at)
    subject = session.get(Subject, subject_id)
    if (
        subject is None
        or subject.erased_at is not None
        or clock.aware(subject.created_at) >= effective_at
        or _existing(session, subject_id, version.version_id) is not None
    ):
        return None
    told = session.scalars(
        select(ChangeNotification)
        .where(
            ChangeNotification.subject_id == subject_id,
            ChangeNotification.version_id == version.version_id,
            ChangeNotification.notified_at < effective_at,
        )
        .order_by(ChangeNotification.notified_at)
        .limit(1)
    ).first()
    if told is None or not _accepts_continued_use(version):
        return None
    notice = f"email:{told.message_id}" if told.message_id else told.via
    row = Acceptance(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        version_id=version.version_id,
        method=CONTINUED_USE,
        at=now,
        shown=shown_for(version, notice).model_dump(mode="json"),
        actor=actor,
    )
    if not _insert(session, row):
        return None  # another request of theirs recorded it first
    _audit(session, actor, role, row)
    return as_read(row)


def after_read(
    session: Session, loaded: LoadedPolicy, caller: Caller, subject_id: str, purpose: str
) -> None:
    """Record continued use when a service token read the person's data to sign them in."""
    if signs_in(loaded, caller, purpose):
        record_continued_use(session, subject_id, actor=caller.name, role=caller.role)


def signs_in(loaded: LoadedPolicy, caller: Caller, purpose: str) -> bool:
    """Tell whether a read is the person signing in: a service token reading for authentication
    (a member of staff reading is not the person's own use)."""
    role = loaded.policy.staff.roles.get(caller.role)
    return role is not None and role.service and is_within(purpose, AUTHENTICATION)


def after_collect(session: Session, caller: Caller, subject_id: str) -> None:
    """Record continued use when the person gave data (any collection for them)."""
    record_continued_use(session, subject_id, actor=caller.name, role=caller.role)


def acceptances(
    session: Session, loaded: LoadedPolicy, caller: Caller, subject_id: str, purpose: str
) -> AcceptanceList:
    """Return a person's acceptances, to a caller serving them or answering for the law."""
    records.authorise_records(
        session,
        loaded,
        caller,
        subject_id,
        purpose,
        action="acceptances",
        what="acceptances",
        refusal=PurposeNotForAcceptances,
    )
    rows = session.scalars(
        select(Acceptance).where(Acceptance.subject_id == subject_id).order_by(Acceptance.at)
    ).all()
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="acceptances",
            subject_id=subject_id,
            purpose=purpose,
        ),
    )
    return AcceptanceList(
        subject_id=subject_id, purpose=purpose, acceptances=[as_read(r) for r in rows]
    )


def forget(session: Session, subject_id: str) -> None:
    """Delete an erased person's acceptances and change notifications."""
    conn = db.core(session)
    for stmt in _FORGET:
        conn.execute(stmt, {"subject_id": subject_id})


# Built once: every erasure runs them.
_FORGET = tuple(
    delete(model).where(model.subject_id == bindparam("subject_id"))
    for model in (Acceptance, ChangeNotification)
)

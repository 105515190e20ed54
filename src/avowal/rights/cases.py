"""Cases: every rights request and every question, with a due date (GDPR Art. 12(3)).

A case is due one calendar month after it arrived; it may be extended once, by up to two
further months, with a reason the person is told. Open past its due date it is overdue (the
review and ``/metrics`` count them). A closed case is archived after :data:`ARCHIVE_AFTER`: its
contact subject (the address and message, held in the vault) is crypto-shredded and only the
case's dates, kind and outcome remain.

Requests carried out at once (in the privacy center, or by the site's back end through the API)
are recorded as cases closed on arrival, so the register holds every request.
"""

from __future__ import annotations

import calendar
import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import Select, func, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.audit import service as audit
from avowal.db.engine import transaction
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.rights.exceptions import CaseClosed, CaseNotFound, InvalidExtension
from avowal.rights.models import Case
from avowal.vault import erasure, repository
from avowal.vault.subjects import is_living

KINDS = ("question", "access", "rectification", "erasure", "withdrawal", "objection")
SOURCES = ("contact", "api", "center", "console")
OPEN, CLOSED = "open", "closed"
MAX_EXTENSION_MONTHS = 2
ARCHIVE_AFTER = dt.timedelta(days=365)
# Who archives: the worker, as the system.
SYSTEM, SYSTEM_ROLE = "avowal", "system"


def add_months(at: dt.datetime, months: int) -> dt.datetime:
    """Return the same day and time ``months`` calendar months later (clamped to month end)."""
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    day = min(at.day, calendar.monthrange(year, month)[1])
    return at.replace(year=year, month=month, day=day)


def _number(session: Session) -> int:
    return int(session.scalar(select(func.coalesce(func.max(Case.number), 0))) or 0) + 1


def open_case(
    session: Session,
    kind: str,
    *,
    source: str,
    actor: str,
    role: str,
    subject_id: str | None = None,
    account_ids: list[str] | None = None,
    identity_method: str | None = None,
    case_id: str | None = None,
    now: dt.datetime | None = None,
) -> Case:
    """Open a case due a month from now; ``identity_method`` when the sender is known already.

    ``case_id`` when the contact subject was named after the case before it was opened.
    """
    assert kind in KINDS and source in SOURCES
    at = clock.current(now)
    row = Case(
        id=case_id or str(uuid.uuid4()),
        number=_number(session),
        kind=kind,
        source=source,
        subject_id=subject_id,
        account_ids=" ".join(account_ids or []),
        status=OPEN,
        opened_at=at,
        due_at=add_months(at, 1),
        identity_checked_at=at if identity_method else None,
        identity_method=identity_method,
    )
    session.add(row)
    session.flush()
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="case_open",
            subject_id=subject_id,
            reason=f"case {row.number}: {kind} via {source}, due {row.due_at.date().isoformat()}",
        ),
    )
    return row


def record_done(
    session: Session,
    kind: str,
    subject_ids: list[str],
    *,
    source: str,
    actor: str,
    role: str,
    outcome: str,
    now: dt.datetime | None = None,
) -> Case:
    """Record a request carried out on arrival: a case opened and closed at once."""
    row = open_case(
        session,
        kind,
        source=source,
        actor=actor,
        role=role,
        account_ids=subject_ids,
        identity_method="signed in" if source == "center" else f"vouched for by {actor}",
        now=now,
    )
    return close(session, row, actor=actor, role=role, outcome=outcome, now=now)


def get(session: Session, case_id: str, *, lock: bool = False) -> Case:
    """Return a case, or refuse an unknown id (404)."""
    stmt = select(Case).where(Case.id == case_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(stmt)
    if row is None:
        raise CaseNotFound(f"no case {case_id}", case_id=case_id)
    return row


def accounts(row: Case) -> list[str]:
    """Return the subject ids a case is about (known once the sender's identity is checked)."""
    return row.account_ids.split() if row.account_ids else []


def due(row: Case) -> dt.datetime:
    """Return when a case is due (its extended date, once extended)."""
    return clock.aware(row.due_at)


def is_overdue(row: Case, now: dt.datetime | None = None) -> bool:
    """Tell whether a case is open past its due date."""
    return row.status == OPEN and due(row) < clock.current(now)


def require_open(row: Case) -> None:
    """Refuse (409) a step on a closed case."""
    if row.status != OPEN:
        raise CaseClosed(f"case {row.number} is closed", case_id=row.id, number=row.number)


def extend(
    session: Session,
    row: Case,
    months: int,
    reason: str,
    *,
    actor: str,
    role: str,
    now: dt.datetime | None = None,
) -> Case:
    """Extend an open case once, by 1 or 2 months from its original due date, with a reason."""
    require_open(row)
    if row.extended_at is not None:
        raise InvalidExtension(
            f"case {row.number} was extended already: a request may be extended once, by at "
            f"most {MAX_EXTENSION_MONTHS} further months",
            number=row.number,
        )
    if not 1 <= months <= MAX_EXTENSION_MONTHS:
        raise InvalidExtension(
            f"an extension is 1 or {MAX_EXTENSION_MONTHS} months, not {months}", months=months
        )
    if not reason.strip():
        raise InvalidExtension(
            "an extension needs its reason: the person is told why", field="reason"
        )
    if is_overdue(row, now):
        raise InvalidExtension(
            f"case {row.number} is overdue already: extend a request before its due date",
            number=row.number,
        )
    row.due_at = add_months(due(row), months)
    row.extended_at = clock.current(now)
    row.extension_reason = reason.strip()
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="case_extend",
            subject_id=row.subject_id,
            reason=f"case {row.number} due {row.due_at.date().isoformat()}",
        ),
    )
    return row


def check_identity(
    session: Session,
    row: Case,
    method: str,
    account_ids: list[str],
    *,
    actor: str,
    role: str,
    now: dt.datetime | None = None,
) -> Case:
    """Record that the sender's identity is checked, and whose accounts the request is about."""
    require_open(row)
    row.identity_checked_at = clock.current(now)
    row.identity_method = method[:100]
    row.account_ids = " ".join(account_ids)
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="case_identity",
            subject_id=row.subject_id,
            reason=f"case {row.number}: {method}, {len(account_ids)} account(s)",
        ),
    )
    return row


def close(
    session: Session,
    row: Case,
    *,
    actor: str,
    role: str,
    outcome: str,
    now: dt.datetime | None = None,
) -> Case:
    """Close a case with what was done (no personal data in ``outcome``)."""
    require_open(row)
    row.status = CLOSED
    row.closed_at = clock.current(now)
    row.closed_by = actor
    row.outcome = outcome[:200]
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="case_close",
            subject_id=row.subject_id,
            reason=f"case {row.number}: {row.outcome}",
        ),
    )
    return row


@dataclass(frozen=True)
class Counts:
    """Cases in figures, for the review and the metrics."""

    open: int
    overdue: int
    closed: int
    archived: int


def counts(session: Session, now: dt.datetime | None = None) -> Counts:
    """Count cases by state; overdue ones are open past their due date."""
    at = clock.current(now)
    rows = session.execute(select(Case.status, Case.due_at, Case.archived_at)).all()
    return Counts(
        open=sum(1 for s, _, _ in rows if s == OPEN),
        overdue=sum(1 for s, d, _ in rows if s == OPEN and clock.aware(d) < at),
        closed=sum(1 for s, _, a in rows if s == CLOSED and a is None),
        archived=sum(1 for _, _, a in rows if a is not None),
    )


def queue(session: Session, *, include_closed: bool = False) -> list[Case]:
    """Return the cases to handle, the soonest due first (closed ones after, newest first)."""
    stmt = select(Case).where(Case.archived_at.is_(None))
    if not include_closed:
        stmt = stmt.where(Case.status == OPEN)
    rows = list(session.scalars(stmt))
    return sorted(
        rows,
        key=lambda r: (
            r.status != OPEN,
            due(r) if r.status == OPEN else -clock.aware(r.closed_at or r.opened_at).timestamp(),
        ),
    )


def overdue_cases(session: Session, now: dt.datetime | None = None) -> list[Case]:
    """Return the open cases past their due date, the longest overdue first."""
    at = clock.current(now)
    rows = session.scalars(select(Case).where(Case.status == OPEN).order_by(Case.due_at))
    return [r for r in rows if due(r) < at]


def _due_for_archive(at: dt.datetime) -> Select[Case]:
    return select(Case).where(
        Case.status == CLOSED,
        Case.archived_at.is_(None),
        Case.closed_at < at - ARCHIVE_AFTER,
    )


def archive(session: Session, loaded: LoadedPolicy, now: dt.datetime | None = None) -> int:
    """Archive the cases closed more than :data:`ARCHIVE_AFTER` ago; return how many.

    Each one's contact subject (the address and message) is crypto-shredded; the case keeps its
    number, kind, dates and outcome. ``loaded`` is the policy in force (unused: a case's
    contact subject holds only the contact point's values, all of which go).
    """
    at = clock.current(now)
    rows = session.scalars(_due_for_archive(at).with_for_update()).all()
    for row in rows:
        subject = repository.subject(session, row.subject_id) if row.subject_id else None
        if subject is not None and is_living(
            repository.KeyRow(subject.erased_at, subject.key_id, subject.wrapped_key)
        ):
            erasure.shred(
                session, subject.id, actor=SYSTEM, role=SYSTEM_ROLE, reason="case archived"
            )
        row.archived_at = at
    return len(rows)


def archive_pass(
    factory: sessionmaker[Session], loaded: LoadedPolicy, now: dt.datetime | None = None
) -> int:
    """Archive the cases due for it, in a transaction of its own (the worker's pass).

    Asked first on a session that only reads: a pass with nothing to archive writes nothing.
    """
    at = clock.current(now)
    with factory() as session:
        if session.scalar(_due_for_archive(at).with_only_columns(Case.id).limit(1)) is None:
            return 0
    with transaction(factory) as session:
        return archive(session, loaded, at)

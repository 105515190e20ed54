"""Legal requests: registered by a privacy officer, approved by another, exported once, recorded.

A request names the authority, its reference and legal basis, the people and fields it covers, a
deadline, and whether the people may be told (now, from a date, or not at all). Four eyes: a
second privacy officer decides on it, never the requester, unless the policy itself declares
``legal_disclosures.four_eyes: false``. The single export is :mod:`avowal.legal.export`;
break-glass access is :mod:`avowal.legal.break_glass`.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, aliased

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.legal.exceptions import (
    FourEyesRequired,
    InvalidLegalRequest,
    LegalRequestNotFound,
    LegalRequestState,
    NotPrivacyOfficer,
    RecipientNotAuthority,
)
from avowal.legal.models import LegalRequest, SubjectNotice
from avowal.legal.schemas import LegalRequestCreate, LegalRequestRead
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import RecipientKind
from avowal.policy.taxonomy import LEGAL_OBLIGATION
from avowal.staff import service as staff
from avowal.staff.models import StaffAccount
from avowal.vault import subjects
from avowal.vault.exceptions import SubjectErased, SubjectNotFound

MAX_SUBJECTS = 1000


def deny(session: Session, caller: Caller, action: str, exc: AvowalError, **event: Any) -> None:
    """Audit a refused legal action; the audit entry survives the failed request."""
    audit.refuse(
        session,
        exc,
        actor=caller.name,
        role=caller.role,
        action=action,
        purpose=LEGAL_OBLIGATION,
        **event,
    )


def officer(
    session: Session, loaded: LoadedPolicy, account: StaffAccount, action: str, now: dt.datetime
) -> Caller:
    """Return the account's caller, refusing (audited) anyone who is not a privacy officer."""
    staff.require_active(account, now)
    caller = staff.caller(loaded, account)
    if not caller.grants(LEGAL_OBLIGATION):
        exc = NotPrivacyOfficer(
            f"role '{account.role}' does not grant {LEGAL_OBLIGATION}: only a privacy officer "
            "handles legal requests",
            role=account.role,
            purpose=LEGAL_OBLIGATION,
        )
        deny(session, caller, action, exc)
        raise exc
    return caller


def check_recipient(loaded: LoadedPolicy, name: str) -> None:
    """Refuse a recipient that is not an authority the policy reserves legal disclosures to."""
    ld = loaded.policy.legal_disclosures
    rec = loaded.policy.recipients.get(name)
    authorities = sorted(ld.recipients)
    if rec is None:
        raise RecipientNotAuthority(
            f"'{name}' is not a recipient declared in the policy; legal disclosures go only to "
            "the authorities it names",
            recipient=name,
            authorities=authorities,
        )
    if rec.kind is not RecipientKind.authority:
        raise RecipientNotAuthority(
            f"'{name}' is a {rec.kind.value}, not an authority; legal disclosures go only to "
            "the authorities the policy names",
            recipient=name,
            kind=rec.kind.value,
            authorities=authorities,
        )
    if name not in ld.recipients:
        raise RecipientNotAuthority(
            f"the policy does not reserve legal disclosures to '{name}' "
            "(it is not listed under legal_disclosures.recipients)",
            recipient=name,
            authorities=authorities,
        )


def _check_fields(loaded: LoadedPolicy, fields: list[str]) -> list[str]:
    declared = {f for cp in loaded.policy.collection_points.values() for f in cp.fields}
    wanted = sorted(set(fields))
    if not wanted:
        raise InvalidLegalRequest("a legal request names at least one field", field="fields")
    unknown = [f for f in wanted if f not in declared]
    if unknown:
        raise InvalidLegalRequest(
            f"field{'s' if len(unknown) > 1 else ''} {', '.join(unknown)} "
            f"{'are' if len(unknown) > 1 else 'is'} not collected at any collection point",
            field="fields",
            unknown=unknown,
            declared=sorted(declared),
        )
    return wanted


def _check_subjects(session: Session, subject_ids: list[str]) -> list[str]:
    wanted = list(dict.fromkeys(subject_ids))
    if not wanted:
        raise InvalidLegalRequest("a legal request names at least one person", field="subject_ids")
    if len(wanted) > MAX_SUBJECTS:
        raise InvalidLegalRequest(
            f"a legal request covers at most {MAX_SUBJECTS} people; split it",
            field="subject_ids",
        )
    missing, erased = subjects.unknown_and_erased(session, wanted)
    if missing:
        raise SubjectNotFound(f"no subject {', '.join(missing)}", subject_ids=missing)
    if erased:
        raise SubjectErased(
            f"subject {', '.join(erased)} {'were' if len(erased) > 1 else 'was'} erased: "
            "nothing of them is held to disclose",
            subject_ids=erased,
        )
    return wanted


def create_request(
    session: Session,
    loaded: LoadedPolicy,
    requester: StaffAccount,
    body: LegalRequestCreate,
    now: dt.datetime | None = None,
) -> LegalRequest:
    """Register an authority's request, pending a second privacy officer's decision."""
    now = clock.current(now)
    caller = officer(session, loaded, requester, "legal_request", now)
    if not loaded.policy.legal_disclosures.grounds:
        raise InvalidLegalRequest(
            "the policy reserves no right to legal disclosure (legal_disclosures.grounds is "
            "empty), so nothing may be disclosed to an authority",
            field="legal_disclosures.grounds",
        )
    check_recipient(loaded, body.recipient)
    fields = _check_fields(loaded, body.fields)
    subject_ids = _check_subjects(session, body.subject_ids)
    today = now.date()
    if body.deadline < today:
        raise InvalidLegalRequest(
            f"the deadline {body.deadline.isoformat()} is in the past", field="deadline"
        )
    if body.confidential_until is not None:
        if body.may_notify:
            raise InvalidLegalRequest(
                "confidential_until applies only when the people may not be told now "
                "(may_notify false)",
                field="confidential_until",
            )
        if body.confidential_until < today:
            raise InvalidLegalRequest(
                f"confidential_until {body.confidential_until.isoformat()} is in the past",
                field="confidential_until",
            )
    row = LegalRequest(
        id=str(uuid.uuid4()),
        authority=body.authority,
        reference=body.reference,
        legal_basis=body.legal_basis,
        recipient=body.recipient,
        subject_ids=subject_ids,
        fields=fields,
        deadline=body.deadline,
        may_notify=body.may_notify,
        confidential_until=body.confidential_until,
        status="pending",
        requested_by=requester.id,
        requested_at=now,
    )
    session.add(row)
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="legal_request",
            fields=fields,
            purpose=LEGAL_OBLIGATION,
            reason=f"request {row.id}: {body.authority}, reference {body.reference}, "
            f"{len(subject_ids)} person(s), deadline {body.deadline.isoformat()}",
        ),
    )
    return row


def get_row(session: Session, request_id: str) -> LegalRequest:
    """Return a request row or refuse with 404."""
    row = session.get(LegalRequest, request_id)
    if row is None:
        raise LegalRequestNotFound(f"no legal request {request_id}", request_id=request_id)
    return row


def claim(session: Session, row: LegalRequest, expected: str, **values: Any) -> bool:
    """Move a request on from ``expected`` only if no one else did first (one UPDATE)."""
    result = session.execute(
        update(LegalRequest)
        .where(LegalRequest.id == row.id, LegalRequest.status == expected)
        .values(**values)
    )
    if cast(CursorResult[Any], result).rowcount == 1:
        return True
    session.refresh(row)
    return False


def _decide(
    session: Session,
    loaded: LoadedPolicy,
    approver: StaffAccount,
    request_id: str,
    verdict: str,
    action: str,
    note: str | None,
    now: dt.datetime | None,
) -> LegalRequest:
    now = clock.current(now)
    caller = officer(session, loaded, approver, action, now)
    row = get_row(session, request_id)
    if row.status != "pending":
        raise LegalRequestState(
            f"legal request {row.id} is {row.status}, not pending",
            request_id=row.id,
            status=row.status,
        )
    self_decided = row.requested_by == approver.id
    if self_decided and loaded.policy.legal_disclosures.four_eyes:
        exc = FourEyesRequired(
            f"legal request {row.id}: a second privacy officer must decide on a legal request, "
            "never the one who registered it (legal_disclosures.four_eyes)",
            request_id=row.id,
            requested_by=approver.email,
        )
        deny(session, caller, action, exc)
        raise exc
    if not claim(session, row, "pending", status=verdict, decided_by=approver.id, decided_at=now):
        raise LegalRequestState(
            f"legal request {row.id} is {row.status}, not pending",
            request_id=row.id,
            status=row.status,
        )
    reason = f"request {row.id} {verdict}"
    if self_decided:
        reason += " by its own requester (the policy sets legal_disclosures.four_eyes: false)"
    if note:
        reason += f": {note.strip()}"
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action=action,
            fields=row.fields,
            purpose=LEGAL_OBLIGATION,
            reason=reason,
        ),
    )
    return row


def approve(
    session: Session,
    loaded: LoadedPolicy,
    approver: StaffAccount,
    request_id: str,
    now: dt.datetime | None = None,
) -> LegalRequest:
    """Approve a pending request as a second privacy officer (four eyes)."""
    return _decide(session, loaded, approver, request_id, "approved", "legal_approve", None, now)


def reject(
    session: Session,
    loaded: LoadedPolicy,
    approver: StaffAccount,
    request_id: str,
    reason: str | None = None,
    now: dt.datetime | None = None,
) -> LegalRequest:
    """Reject a pending request as a second privacy officer (four eyes); nothing is disclosed."""
    return _decide(session, loaded, approver, request_id, "rejected", "legal_reject", reason, now)


def email_of(session: Session, account_id: int | None) -> str | None:
    """Return a staff account's e-mail address."""
    if account_id is None:
        return None
    return session.scalar(select(StaffAccount.email).where(StaffAccount.id == account_id))


# -- Reading -----------------------------------------------------------------------------------


def is_overdue(row: LegalRequest, now: dt.datetime) -> bool:
    """Tell whether a request's deadline has passed without an export (rejections never are)."""
    return row.status in ("pending", "approved") and row.deadline < now.date()


def _read(
    row: LegalRequest, requester: str, decider: str | None, now: dt.datetime
) -> LegalRequestRead:
    return LegalRequestRead(
        id=row.id,
        authority=row.authority,
        reference=row.reference,
        legal_basis=row.legal_basis,
        recipient=row.recipient,
        subject_ids=list(row.subject_ids),
        fields=list(row.fields),
        deadline=row.deadline,
        may_notify=row.may_notify,
        confidential_until=row.confidential_until,
        status=row.status,
        requested_by=requester,
        requested_at=clock.aware(row.requested_at),
        decided_by=decider,
        decided_at=clock.aware(row.decided_at) if row.decided_at else None,
        exported_at=clock.aware(row.exported_at) if row.exported_at else None,
        export_sha256=row.export_sha256,
        overdue=is_overdue(row, now),
        never_notify=not row.may_notify and row.confidential_until is None,
    )


def list_requests(
    session: Session,
    now: dt.datetime | None = None,
    *,
    status: str | None = None,
    overdue_only: bool = False,
) -> list[LegalRequestRead]:
    """Return legal requests, newest first, optionally of one status or only the overdue ones."""
    now = clock.current(now)
    requester = aliased(StaffAccount)
    decider = aliased(StaffAccount)
    stmt = (
        select(LegalRequest, requester.email, decider.email)
        .join(requester, requester.id == LegalRequest.requested_by)
        .outerjoin(decider, decider.id == LegalRequest.decided_by)
        .order_by(LegalRequest.requested_at.desc(), LegalRequest.id)
    )
    if status is not None:
        stmt = stmt.where(LegalRequest.status == status)
    if overdue_only:
        stmt = stmt.where(
            LegalRequest.status.in_(("pending", "approved")), LegalRequest.deadline < now.date()
        )
    return [_read(row, req, dec, now) for row, req, dec in session.execute(stmt)]


def overdue_requests(session: Session, now: dt.datetime | None = None) -> list[LegalRequestRead]:
    """Return the requests whose deadline passed without an export."""
    return list_requests(session, now, overdue_only=True)


def get_request(
    session: Session, request_id: str, now: dt.datetime | None = None
) -> LegalRequestRead:
    """Return one legal request as the console shows it."""
    row = get_row(session, request_id)
    requester = email_of(session, row.requested_by) or str(row.requested_by)
    return _read(row, requester, email_of(session, row.decided_by), clock.current(now))


def due_notices(session: Session, now: dt.datetime | None = None) -> list[SubjectNotice]:
    """Return the notices due and not yet sent, oldest first (for the mailer)."""
    stmt = (
        select(SubjectNotice)
        .where(SubjectNotice.sent_at.is_(None), SubjectNotice.due_at <= clock.current(now))
        .order_by(SubjectNotice.due_at)
    )
    return list(session.scalars(stmt))

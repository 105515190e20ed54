"""Handling a case: receiving a question or a request, checking who sent it, extending it and
answering it (carrying it out on an account: :mod:`avowal.rights.case_actions`).

What a person writes is collected through the vault at the policy's ``contact`` point, as a
new subject of its own (ref ``case:<case id>``) per message: an address alone never joins an
account. The sender's accounts are known once they prove they control the address (a single-use
link mailed to it), or at once when the site vouches for its signed-in user. Every message to
the person is sealed under the contact subject's key, so archiving the case shreds them too.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.audit.models import AuditEntry
from avowal.callers.service import Caller
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.mail import content as mail_content
from avowal.mail import service as mail
from avowal.policy.loader import LoadedPolicy
from avowal.rights import cases, contact, links, service, signin
from avowal.rights import erasure as account_erasure
from avowal.rights.case_schemas import CaseRead
from avowal.rights.contact import ContactFields
from avowal.rights.exceptions import ContactUnavailable
from avowal.rights.models import Case
from avowal.settings import Settings
from avowal.vault import collection, notices, repository
from avowal.vault.exceptions import SubjectNotFound
from avowal.vault.schemas import CollectRequest, Notice, SubjectRef
from avowal.vault.subjects import living_subject

CONTACT = contact.CONTACT
# Writing back to the person about what they asked serves the contact point's own purpose.
SUPPORT = "essential.service.operations.support"
REF_PREFIX = "case:"
CHECKED_BY_LINK = "controls the address"
# What staff may record as a case's outcome: a closed set, so no personal data slips in.
OUTCOMES = ("answered", "carried out", "declined", "identity not confirmed", "no account found")


class CaseRefused(AvowalError):
    """A step that does not fit the case as it stands (mail off, no account, checked already)."""

    status_code = 409
    error = "case_refused"


def contact_fields(loaded: LoadedPolicy) -> ContactFields:
    """Return the contact point's fields, or refuse (404) a policy without a usable one."""
    found = contact.fields_of(loaded)
    if found is not None:
        return found
    raise ContactUnavailable(
        f"the policy has no '{CONTACT}' collection point with an e-mail field and a message "
        f"field: write to {loaded.policy.organisation.privacy_contact} instead",
        point=CONTACT,
    )


def contact_notice(loaded: LoadedPolicy) -> Notice:
    """Return the notice shown beside the contact form (404 without a contact point)."""
    contact_fields(loaded)
    return notices.notice(loaded, CONTACT)


def system_caller(loaded: LoadedPolicy) -> Caller:
    """Return avowal itself collecting at the contact point: its purposes and no more."""
    cp = loaded.policy.collection_points.get(CONTACT)
    return Caller("avowal", "system", tuple(cp.purposes) if cp is not None else ())


def address(session: Session, loaded: LoadedPolicy, secrets: Secrets, row: Case) -> str | None:
    """Return the address a case came from (None once archived)."""
    if row.subject_id is None or row.archived_at is not None:
        return None
    return account_erasure.address_of(session, loaded, secrets, row.subject_id)


def mail_case(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    row: Case,
    content: mail_content.Content,
) -> bool:
    """Queue a message to the case's address; False when mail is off or there is no address."""
    to = address(session, loaded, secrets, row) if mail.mail_configured(settings) else None
    if to is None or row.subject_id is None:
        return False
    mail.queue_to_person(
        session, secrets, loaded, row.subject_id, purpose=SUPPORT, to=to, content=content
    )
    return True


def require_mail(settings: Settings) -> None:
    """Refuse (409) a step that must write to the person when mail is not configured."""
    if not mail.mail_configured(settings):
        raise CaseRefused("mail is not configured: the person cannot be written to")


def receive(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    caller: Caller,
    *,
    kind: str,
    email: str,
    message: str,
    notice_id: str,
    source: str,
    vouched: str | None = None,
) -> Case:
    """Collect a message at the contact point, open its case and acknowledge it by mail.

    ``vouched``: the subject id of the site's signed-in user sending it; the sender's identity
    is then vouched for by ``caller`` and the request is about that account.
    """
    fields = contact_fields(loaded)
    if kind not in cases.KINDS:
        raise CaseRefused(f"'{kind}' is not a kind of request ({', '.join(cases.KINDS)})")
    case_id = str(uuid.uuid4())
    body = CollectRequest(
        notice_id=notice_id,
        subject=SubjectRef(ref=REF_PREFIX + case_id),
        values={fields.email: email, fields.message: message},
    )
    collected = collection.collect(session, loaded, secrets, caller, CONTACT, body, settings)
    row = cases.open_case(
        session,
        kind,
        source=source,
        actor=caller.name,
        role=caller.role,
        subject_id=collected.subject_id,
        account_ids=[vouched] if vouched else None,
        identity_method=f"vouched for by {caller.name}" if vouched else None,
        case_id=case_id,
    )
    mail_case(
        session,
        loaded,
        secrets,
        settings,
        row,
        mail_content.CaseReceived(number=row.number, kind=kind, due=cases.due(row).date()),
    )
    return row


def vouched_subject(session: Session, caller: Caller, subject: SubjectRef) -> str:
    """Return the living account the site vouches sent a request; refuse a caller who may not
    act on people's rights (403, audited), or an unknown (404) or erased (410) person."""
    if subject.subject_id is not None:
        subject_id = subject.subject_id
    else:
        assert subject.ref is not None
        found = repository.id_by_ref(session, subject.ref)
        if found is None:
            raise SubjectNotFound("no subject with this ref", ref=subject.ref)
        subject_id = found
    service.require_may_act(session, caller, "case_open", subject_id)
    living_subject(session, subject_id)
    return subject_id


def view(row: Case, now: dt.datetime | None = None) -> CaseRead:
    """Return a case's state as the API shows it (no address, no message)."""
    return CaseRead(
        id=row.id,
        number=row.number,
        kind=row.kind,
        source=row.source,
        status="open" if row.status == cases.OPEN else "closed",
        opened_at=clock.aware(row.opened_at),
        due=cases.due(row).date(),
        overdue=cases.is_overdue(row, now),
        extended=row.extended_at is not None,
        extension_reason=row.extension_reason,
        identity_checked=row.identity_checked_at is not None,
        closed_at=clock.aware(row.closed_at) if row.closed_at is not None else None,
        outcome=row.outcome,
        archived=row.archived_at is not None,
    )


def identity_url(public_url: str, token: str) -> str:
    """Return the page an identity check link opens."""
    return f"{public_url.rstrip('/')}/privacy/cases/confirm/{token}"


def send_identity_check(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    row: Case,
    *,
    actor: str,
    role: str,
) -> None:
    """Mail the sender a single-use link proving they control the address the case came from."""
    cases.require_open(row)
    if row.identity_checked_at is not None:
        raise CaseRefused(f"the sender of case {row.number} is known already")
    require_mail(settings)
    days = links.IDENTITY_DAYS
    token, _ = links.issue(session, links.IDENTITY, [], dt.timedelta(days=days), case_id=row.id)
    link = identity_url(settings.public_url, token)
    content = mail_content.IdentityCheck(number=row.number, link=link, days=days)
    if not mail_case(session, loaded, secrets, settings, row, content):
        raise CaseRefused(f"case {row.number} has no address to write to")
    note(session, row, actor=actor, role=role, what="identity check sent")


def note(session: Session, row: Case, *, actor: str, role: str, what: str) -> None:
    """Record a step of a case in the audit (its history); ``what`` holds no personal data."""
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="case_step",
            subject_id=row.subject_id,
            reason=f"case {row.number}: {what}",
        ),
    )


def accounts_holding(
    session: Session, loaded: LoadedPolicy, secrets: Secrets, address_: str
) -> list[str]:
    """Return the accounts holding an address: its holders but the contact subjects of cases."""
    found = []
    for subject_id in signin.holders(session, loaded, secrets, address_):
        subject = repository.subject(session, subject_id)
        if subject is not None and not (subject.ref or "").startswith(REF_PREFIX):
            found.append(subject_id)
    return found


def confirm_identity(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    token: str,
    now: dt.datetime | None = None,
) -> Case:
    """Use an identity link: the sender controls the address; the case is about its accounts."""
    opened = links.use(session, links.IDENTITY, token, now)
    assert opened.case_id is not None
    row = cases.get(session, opened.case_id, lock=True)
    sent_from = address(session, loaded, secrets, row)
    held = [] if sent_from is None else accounts_holding(session, loaded, secrets, sent_from)
    return cases.check_identity(
        session,
        row,
        CHECKED_BY_LINK,
        held,
        actor=service.PERSON,
        role=service.PERSON_ROLE,
        now=now,
    )


def extend(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    row: Case,
    months: int,
    reason: str,
    *,
    actor: str,
    role: str,
) -> Case:
    """Extend a case once (1 or 2 months, with a reason) and tell the person why."""
    cases.extend(session, row, months, reason, actor=actor, role=role)
    content = mail_content.CaseExtended(
        number=row.number, due=cases.due(row).date(), reason=row.extension_reason or reason
    )
    mail_case(session, loaded, secrets, settings, row, content)
    return row


def answer(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    row: Case,
    text: str,
    outcome: str,
    *,
    actor: str,
    role: str,
) -> Case:
    """Mail staff's answer to the case's address and close the case with its outcome."""
    cases.require_open(row)
    if outcome not in OUTCOMES:
        raise CaseRefused(f"'{outcome}' is not an outcome ({', '.join(OUTCOMES)})")
    if not text.strip():
        raise CaseRefused("write the answer the person is sent", field="text")
    require_mail(settings)
    content = mail_content.CaseAnswer(number=row.number, text=text.strip())
    if not mail_case(session, loaded, secrets, settings, row, content):
        raise CaseRefused(f"case {row.number} has no address to write to")
    return cases.close(session, row, actor=actor, role=role, outcome=outcome)


@dataclass(frozen=True)
class HistoryEntry:
    """A step of a case as the audit recorded it."""

    at: str
    actor: str
    action: str
    decision: str
    reason: str | None


def history(session: Session, row: Case) -> list[HistoryEntry]:
    """Return the audit entries of a case, oldest first."""
    mark = f"case {row.number}"
    stmt = (
        select(AuditEntry)
        .where(or_(AuditEntry.reason.like(f"{mark}:%"), AuditEntry.reason.like(f"{mark} %")))
        .order_by(AuditEntry.seq)
    )
    return [
        HistoryEntry(e.at, e.actor, e.action, e.decision, e.reason) for e in session.scalars(stmt)
    ]

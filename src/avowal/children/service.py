"""Verifiable parental consent ("e-mail plus"): the request, the parent's answer, the
confirmation, withdrawal and expiry.

A person under the policy's children threshold, let in by the age gate (:mod:`.gate`) at a point
that admits minors, is locked (:func:`avowal.children.lock.lock_of`, the one rule every read,
lookup, disclosure and communication asks) until a parent consents. The parent gets a message
saying what was collected, why and for how long, with a signed single-use link to avowal's page;
after they consent, a second message confirms it once ``children.confirm_after_hours`` have
passed, and only then are the values usable, for the purposes the parent agreed to, under a
receipt naming the parent's consent. A refusal, no answer within ``children.wait_days``, or a
later revocation erases the child (the parent's address, sealed under the child's key, goes with
it).
"""

from __future__ import annotations

import datetime as dt
import uuid
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.children import gate, links
from avowal.children.exceptions import (
    LinkUsed,
    NowOfAge,
    UnknownOptionalPurpose,
)
from avowal.children.lock import (
    CONFIRMING,
    CONSENTED,
    EXPIRED,
    PENDING,
    REFUSED,
    REVOKED,
    STATUSES,
    lock_of,
)
from avowal.children.models import ParentalConsent
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock, person_pages
from avowal.mail import content as mail_content
from avowal.mail import service as mail
from avowal.policy import wording
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import is_within
from avowal.vault import erasure, notices, receipts, repository
from avowal.vault.schemas import ParentalPending
from avowal.vault.subjects import living_subject

ACTOR = "parent"
ROLE = "parent"
# The associated data under which the parent's address is sealed with the child's key.
_SEALED_POINT, _SEALED_FIELD = "parental_consent", "parent_email"


# -- The request ------------------------------------------------------------------------------


def describe(loaded: LoadedPolicy, point: str, fields: list[str]) -> tuple[list[str], list[str]]:
    """Return what was collected (label: category) and why (the purposes' descriptions)."""
    note = notices.notice(loaded, point)
    shown = [f for f in note.fields if f.name in fields]
    collected = [f"{f.label} ({f.category_name})" for f in shown]
    uses = sorted({u for f in shown for u in f.purposes})
    why = [person_pages.purpose_label(loaded, u) for u in uses]
    return collected, why


_AFTER = {
    "collection": "after it was given",
    "last_activity": "after the last use of the account",
    "account_closure": "after the account is closed",
}


def retention(loaded: LoadedPolicy, point: str) -> list[str]:
    """Return the point's retention rules in words: what, and how long after what."""
    note = notices.notice(loaded, point)
    lines = []
    for r in note.retention:
        if r.category is not None:
            what = loaded.taxonomy.label("data_categories", r.category)
        else:
            what = person_pages.purpose_label(loaded, str(r.purpose))
        lines.append(f"{what}: erased {wording.days(r.days)} {_AFTER.get(r.after, r.after)}")
    return lines


def optional_purposes(loaded: LoadedPolicy, point: str) -> list[str]:
    """Return the purposes at ``point`` a parent may refuse while consenting to the rest."""
    note = notices.notice(loaded, point)
    uses = {u for f in note.fields for u in f.purposes}
    return sorted(
        p for p in gate.rule(loaded).optional_purposes if any(is_within(u, p) for u in uses)
    )


def pending(row: ParentalConsent) -> ParentalPending:
    """Return what the collection answer says about a minor's request."""
    return ParentalPending(
        request_id=row.id,
        status=row.status,
        expires_at=clock.iso(clock.aware(row.expires_at)),
        next="nothing of this person's is usable until their parent consents: avowal has "
        "e-mailed the parent; a refusal or no answer by expires_at erases the person",
    )


def request(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    public_url: str,
    subject_id: str,
    data_key: bytes,
    point: str,
    parent_email: str,
    fields: list[str],
) -> ParentalPending:
    """Open a request for a minor just collected (or keep the open one) and e-mail the parent."""
    kids = gate.rule(loaded)
    now = clock.now()
    open_ = lock_of(session, subject_id)
    if open_ is not None:
        return pending(open_)
    row = ParentalConsent(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        point=point,
        status=PENDING,
        parent_address=cipher.encrypt(
            data_key, subject_id, _SEALED_POINT, _SEALED_FIELD, parent_email
        ),
        parent_notice_id=gate.parent_notice(loaded, point).notice_id,
        refused_purposes=[],
        requested_at=now,
        expires_at=now + dt.timedelta(days=kids.wait_days),
    )
    token, row.answer_nonce = links.token(secrets, row.id, links.ANSWER)
    session.add(row)
    session.flush()
    collected, why = describe(loaded, point, fields)
    mail.queue_to_person(
        session,
        secrets,
        loaded,
        subject_id,
        purpose=gate.PARENT_PURPOSE,
        to=parent_email,
        content=mail_content.ParentalRequest(
            point=loaded.policy.collection_points[point].title,
            under=kids.under,
            collected=collected,
            purposes=why,
            retention=retention(loaded, point),
            optional=[
                person_pages.purpose_label(loaded, p) for p in optional_purposes(loaded, point)
            ],
            answer_url=links.link(public_url, token),
            expires=clock.aware(row.expires_at).date(),
            confirm_after_hours=kids.confirm_after_hours,
        ),
        now=now,
    )
    _audit(session, subject_id, "parental_request", f"request {row.id} sent to the parent")
    return pending(row)


def _audit(session: Session, subject_id: str, action: str, reason: str) -> None:
    audit.append(
        session,
        audit.Event(actor=ACTOR, role=ROLE, action=action, subject_id=subject_id, reason=reason),
    )


# -- The parent's answer ----------------------------------------------------------------------


def answer(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    token: str,
    consent: bool,
    refused_purposes: list[str],
    *,
    outbox: Path | None,
) -> ParentalConsent:
    """Record a parent's answer from their link: consent (maybe refusing optional purposes) or
    refusal, which erases the child at once. The link is single-use."""
    opened = links.open_link(session, secrets, token, lock=True)
    row = opened.row
    if opened.action != links.ANSWER or row.status != PENDING:
        raise LinkUsed("this link has been used already", status=row.status)
    now = clock.now()
    row.answer_nonce = None
    row.answered_at = now
    if not consent:
        row.status = REFUSED
        _close(session, loaded, row, now, "refused by the parent", outbox)
        return row
    allowed = optional_purposes(loaded, row.point)
    unknown = sorted(set(refused_purposes) - set(allowed))
    if unknown:
        raise UnknownOptionalPurpose(
            f"{', '.join(unknown)} cannot be refused on its own here; optional: "
            f"{', '.join(allowed) or 'none'}",
            refused=unknown,
            optional=allowed,
        )
    row.refused_purposes = sorted(set(refused_purposes))
    row.status = CONFIRMING
    row.confirm_at = now + dt.timedelta(hours=gate.rule(loaded).confirm_after_hours)
    _audit(
        session,
        row.subject_id,
        "parental_consent",
        f"request {row.id}: consented"
        + (f", refusing {', '.join(row.refused_purposes)}" if row.refused_purposes else "")
        + "; confirmation due "
        + clock.iso(row.confirm_at),
    )
    return row


def _close(
    session: Session,
    loaded: LoadedPolicy,
    row: ParentalConsent,
    now: dt.datetime,
    why: str,
    outbox: Path | None,
) -> None:
    row.parent_address = None
    row.revoke_nonce = None
    row.answer_nonce = None
    row.closed_at = now
    _audit(session, row.subject_id, f"parental_{row.status}", f"request {row.id}: {why}")
    erasure.shred(session, row.subject_id, actor=ACTOR, role=ROLE, outbox=outbox, reason=why)


def confirm(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    public_url: str,
    row: ParentalConsent,
    now: dt.datetime,
) -> None:
    """Send the confirmation due and make the child's values usable for the consented purposes,
    under a receipt naming the parent's consent."""
    subject = living_subject(session, row.subject_id, lock=True)
    assert subject.key_id is not None and subject.wrapped_key is not None
    data_key = secrets.keyring.unwrap(subject.key_id, subject.wrapped_key, subject.id)
    assert row.parent_address is not None
    address = cipher.decrypt(data_key, subject.id, _SEALED_POINT, _SEALED_FIELD, row.parent_address)
    held = repository.values_at(session, row.subject_id, row.point)
    refused = row.refused_purposes
    field_purposes = {
        v.field: [u for u in v.purposes if not any(is_within(u, r) for r in refused)] for v in held
    }
    note = notices.notice(loaded, row.point)
    doc, _ = receipts.issue(
        session,
        loaded,
        secrets,
        row.subject_id,
        note,
        field_purposes,
        now,
        basis="parental_consent",
        parental_consent_id=row.id,
        refused_purposes=refused,
        consented_at=clock.iso(clock.aware(row.answered_at)) if row.answered_at else None,
    )
    session.flush()
    for value in held:
        value.purposes = field_purposes[value.field]
        value.receipt_id = doc["receipt_id"]
    token, row.revoke_nonce = links.token(secrets, row.id, links.REVOKE)
    kept = sorted({u for us in field_purposes.values() for u in us})
    mail.queue_to_person(
        session,
        secrets,
        loaded,
        row.subject_id,
        purpose=gate.PARENT_PURPOSE,
        to=address,
        content=mail_content.ParentalConfirmation(
            point=loaded.policy.collection_points[row.point].title
            if row.point in loaded.policy.collection_points
            else row.point,
            consented=[person_pages.purpose_label(loaded, u) for u in kept],
            refused=[person_pages.purpose_label(loaded, u) for u in refused],
            revoke_url=links.link(public_url, token),
        ),
        now=now,
    )
    row.status = CONSENTED
    row.receipt_id = doc["receipt_id"]
    _audit(
        session,
        row.subject_id,
        "parental_confirmed",
        f"request {row.id}: confirmation sent; usable for {', '.join(kept) or 'nothing'} "
        f"under receipt {doc['receipt_id']}",
    )


def revoke(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    token: str,
    *,
    outbox: Path | None,
) -> ParentalConsent:
    """Withdraw a parent's consent from the confirmation's link: the child is erased, unless
    they have come of age since (their data and their say are their own then)."""
    opened = links.open_link(session, secrets, token, lock=True)
    row = opened.row
    if opened.action != links.REVOKE or row.status != CONSENTED:
        raise LinkUsed("this link has been used already", status=row.status)
    adult_on = _adult_on(session, loaded, secrets, row)
    now = clock.now()
    if adult_on is not None and adult_on <= now.date():
        raise NowOfAge(
            "the person has come of age: their data and the say over it are their own now",
        )
    row.status = REVOKED
    _close(session, loaded, row, now, "consent withdrawn by the parent", outbox)
    return row


def _adult_on(
    session: Session, loaded: LoadedPolicy, secrets: Secrets, row: ParentalConsent
) -> dt.date | None:
    """Return the day the child comes of age, when their birth date is held."""
    kids = gate.rule(loaded)
    cp = loaded.policy.collection_points.get(row.point)
    name = gate.birth_field(loaded, cp) if cp is not None else None
    if name is None:
        return None
    held = [v for v in repository.values_at(session, row.subject_id, row.point) if v.field == name]
    subject = living_subject(session, row.subject_id)
    if not held or held[0].ciphertext is None:
        return None
    assert subject.key_id is not None and subject.wrapped_key is not None
    data_key = secrets.keyring.unwrap(subject.key_id, subject.wrapped_key, subject.id)
    born = dt.date.fromisoformat(
        cipher.decrypt(data_key, subject.id, row.point, name, held[0].ciphertext)
    )
    try:
        return born.replace(year=born.year + kids.under)
    except ValueError:  # born on 29 February
        return dt.date(born.year + kids.under, 3, 1)


# -- The worker's pass --------------------------------------------------------------------------


def expire(
    session: Session,
    loaded: LoadedPolicy,
    row: ParentalConsent,
    now: dt.datetime,
    outbox: Path | None,
) -> None:
    """Erase a child whose parent did not answer within the waiting period."""
    row.status = EXPIRED
    _close(session, loaded, row, now, "no answer within the waiting period", outbox)


def counts(session: Session) -> dict[str, int]:
    """Return how many requests are in each status (the internal review lists them)."""
    found = dict.fromkeys(STATUSES, 0)
    for status in session.scalars(select(ParentalConsent.status)):
        found[status] = found.get(status, 0) + 1
    return found

"""The age gate and verifiable parental consent ("e-mail plus"), and the lock it keeps.

A person under the policy's children threshold, collected at a point that admits minors, is
locked (:func:`lock_of`, the one rule every read, lookup, disclosure and communication asks)
until a parent consents. The parent gets a message saying what was collected, why and for how
long, with a signed single-use link to avowal's page; after they consent, a second message
confirms it once ``children.confirm_after_hours`` have passed, and only then are the values
usable, for the purposes the parent agreed to, under a receipt naming the parent's consent. A
refusal, no answer within ``children.wait_days``, or a later revocation erases the child (the
parent's address, sealed under the child's key, goes with it).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets as random
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from avowal.audit import service as audit
from avowal.children.exceptions import (
    AgeRequired,
    LinkExpired,
    LinkInvalid,
    LinkUsed,
    MinorNotAdmitted,
    NowOfAge,
    ParentalMailUnavailable,
    ParentRequired,
    StaleParentNotice,
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
from avowal.children.schemas import ParentNotice
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.crypto.signing import canonical
from avowal.db.engine import transaction
from avowal.lib import clock
from avowal.mail import content as mail_content
from avowal.mail import service as mail
from avowal.policy import wording
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import AgeQuestion, Children, CollectionPoint
from avowal.policy.taxonomy import is_within
from avowal.settings import Settings
from avowal.vault import erasure, notices, receipts, repository
from avowal.vault.schemas import CollectRequest, ParentalPending
from avowal.vault.subjects import living_subject

DATE_OF_BIRTH = "user.demographic.date_of_birth"
# The use of the parent's address: asking, confirming, and letting them withdraw.
PARENT_PURPOSE = "essential.service.notifications"
ACTOR = "parent"
ROLE = "parent"
ANSWER, REVOKE = "answer", "revoke"
# The associated data under which the parent's address is sealed with the child's key.
_SEALED_POINT, _SEALED_FIELD = "parental_consent", "parent_email"


# -- The parent's notice --------------------------------------------------------------------


def _rule(loaded: LoadedPolicy) -> Children:
    kids = loaded.policy.children
    assert kids is not None
    return kids


def parent_notice(loaded: LoadedPolicy, point: str) -> ParentNotice:
    """Return what a child is told when asked for their parent's address at ``point``."""
    kids = _rule(loaded)
    org = loaded.policy.organisation.name
    text = (
        f"Because you are under {kids.under}, {org} needs your parent's or guardian's permission "
        "before using what you give. We will e-mail them once to ask, and once more to confirm "
        "if they agree. Their address is used for nothing else and is erased with your data if "
        f"they refuse or do not answer within {kids.wait_days} days."
    )
    what = {
        "organisation": org,
        "point": point,
        "under": kids.under,
        "purpose": PARENT_PURPOSE,
        "text": text,
        "wait_days": kids.wait_days,
        "confirm_after_hours": kids.confirm_after_hours,
    }
    digest = hashlib.sha256(canonical(what)).hexdigest()
    return ParentNotice(notice_id=digest, **{k: v for k, v in what.items() if k != "organisation"})


# -- The age gate -----------------------------------------------------------------------------


def _age(born: dt.date, today: dt.date) -> int:
    return today.year - born.year - ((today.month, today.day) < (born.month, born.day))


def _birth_field(loaded: LoadedPolicy, cp: CollectionPoint) -> str | None:
    return next(
        (n for n, f in cp.fields.items() if is_within(f.category, DATE_OF_BIRTH)),
        None,
    )


def is_minor(
    loaded: LoadedPolicy, point: str, values: dict[str, str], declared_under: bool | None
) -> bool | None:
    """Tell whether the person giving ``values`` is under the threshold; None when unknown."""
    kids = loaded.policy.children
    if kids is None:
        return False
    cp = loaded.policy.collection_points[point]
    if kids.age_question is AgeQuestion.declaration:
        return declared_under
    name = _birth_field(loaded, cp)
    given = values.get(name) if name is not None else None
    if given is None:
        return None
    return _age(dt.date.fromisoformat(given), clock.now().date()) < kids.under


def gate(
    loaded: LoadedPolicy,
    point: str,
    values: dict[str, str],
    body: CollectRequest,
    mail_on: bool,
) -> bool:
    """Check a collection against the children rule before anything is stored; True: a minor.

    A minor at a point that does not admit minors is refused (403); at one that does, the
    parent's address under the current parent notice is required, and mail must be configured.
    """
    kids = loaded.policy.children
    if kids is None:
        return False
    cp = loaded.policy.collection_points[point]
    minor = is_minor(loaded, point, values, body.declared_under)
    if not cp.admits_minors:
        if minor:
            raise MinorNotAdmitted(
                f"'{point}' is only for people aged {kids.under} or over: nothing was stored",
                point=point,
                under=kids.under,
            )
        return False
    if minor is None:
        asked = (
            "declared_under (true or false)"
            if kids.age_question is AgeQuestion.declaration
            else f"the date of birth ({_birth_field(loaded, cp)})"
        )
        raise AgeRequired(
            f"'{point}' admits people under {kids.under} only with a parent's consent, so it "
            f"needs {asked}",
            point=point,
            under=kids.under,
        )
    if not minor:
        return False
    note = parent_notice(loaded, point)
    if body.parent is None:
        raise ParentRequired(
            f"the person is under {kids.under}: give their parent's or guardian's e-mail "
            f"address in 'parent', with the parent notice shown (GET /v1/notices/{point}/parent)",
            point=point,
            under=kids.under,
            parent_notice_id=note.notice_id,
        )
    if body.parent.notice_id != note.notice_id:
        raise StaleParentNotice(
            "the parent notice shown is not the current one; show it and collect again",
            point=point,
            notice_id=body.parent.notice_id,
            current_notice_id=note.notice_id,
        )
    if not mail_on:
        raise ParentalMailUnavailable(
            "mail is not configured, so a parent cannot be asked: nothing was stored",
            point=point,
        )
    return True


# -- Links ------------------------------------------------------------------------------------


def _link_key(secrets: Secrets) -> bytes:
    return hmac.new(secrets.index_key, b"avowal parental consent links", hashlib.sha256).digest()


def _mac(secrets: Secrets, request_id: str, action: str, nonce: str) -> str:
    msg = f"{request_id}.{action}.{nonce}".encode()
    return hmac.new(_link_key(secrets), msg, hashlib.sha256).hexdigest()[:32]


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def _token(secrets: Secrets, request_id: str, action: str) -> tuple[str, str]:
    """Return a signed single-use token for ``action`` and the digest of its nonce to keep."""
    nonce = random.token_urlsafe(24)
    return f"{request_id}.{action}.{nonce}.{_mac(secrets, request_id, action, nonce)}", _digest(
        nonce
    )


def link(public_url: str, token: str) -> str:
    """Return the page a token opens."""
    return f"{public_url.rstrip('/')}/privacy/parent/{token}"


@dataclass(frozen=True)
class Opened:
    """A verified link: its request and what it is for."""

    row: ParentalConsent
    action: str


def open_link(session: Session, secrets: Secrets, token: str, *, lock: bool = False) -> Opened:
    """Verify a link's signature, its use and its age; return its request.

    A forged or unknown link is 404; one used already, or for a request that has closed, 410;
    an answer link after the waiting period, 410.
    """
    parts = token.split(".")
    if len(parts) != 4 or parts[1] not in (ANSWER, REVOKE):
        raise LinkInvalid("this link is not valid")
    request_id, action, nonce, mac = parts
    if not hmac.compare_digest(mac, _mac(secrets, request_id, action, nonce)):
        raise LinkInvalid("this link is not valid")
    query = select(ParentalConsent).where(ParentalConsent.id == request_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise LinkInvalid("this link is not valid")
    kept = row.answer_nonce if action == ANSWER else row.revoke_nonce
    if kept is None or not hmac.compare_digest(kept, _digest(nonce)):
        raise LinkUsed("this link has been used already", status=row.status)
    if action == ANSWER and clock.aware(row.expires_at) <= clock.now():
        raise LinkExpired("the time to answer is over; the data was or will be erased")
    return Opened(row, action)


# -- The request ------------------------------------------------------------------------------


def describe(loaded: LoadedPolicy, point: str, fields: list[str]) -> tuple[list[str], list[str]]:
    """Return what was collected (label: category) and why (the purposes' descriptions)."""
    note = notices.notice(loaded, point)
    shown = [f for f in note.fields if f.name in fields]
    collected = [f"{f.label} ({f.category_name})" for f in shown]
    uses = sorted({u for f in shown for u in f.purposes})
    purposes = loaded.policy.purposes
    why = [purposes[u].description if u in purposes else u for u in uses]
    return collected, why


_AFTER = {
    "collection": "after it was given",
    "last_activity": "after the last use of the account",
    "account_closure": "after the account is closed",
}


def retention(loaded: LoadedPolicy, point: str) -> list[str]:
    """Return the point's retention rules in words: what, and how long after what."""
    note = notices.notice(loaded, point)
    purposes = loaded.policy.purposes
    lines = []
    for r in note.retention:
        if r.category is not None:
            what = loaded.taxonomy.label("data_categories", r.category)
        else:
            what = purposes[r.purpose].description if r.purpose in purposes else str(r.purpose)
        lines.append(f"{what}: erased {wording.days(r.days)} {_AFTER.get(r.after, r.after)}")
    return lines


def _purpose_text(loaded: LoadedPolicy, purpose: str) -> str:
    found = loaded.policy.purposes.get(purpose)
    return found.description if found is not None else purpose


def optional_purposes(loaded: LoadedPolicy, point: str) -> list[str]:
    """Return the purposes at ``point`` a parent may refuse while consenting to the rest."""
    note = notices.notice(loaded, point)
    uses = {u for f in note.fields for u in f.purposes}
    return sorted(p for p in _rule(loaded).optional_purposes if any(is_within(u, p) for u in uses))


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
    kids = _rule(loaded)
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
        parent_notice_id=parent_notice(loaded, point).notice_id,
        refused_purposes=[],
        requested_at=now,
        expires_at=now + dt.timedelta(days=kids.wait_days),
    )
    token, row.answer_nonce = _token(secrets, row.id, ANSWER)
    session.add(row)
    session.flush()
    collected, why = describe(loaded, point, fields)
    mail.queue_to_person(
        session,
        secrets,
        loaded,
        subject_id,
        purpose=PARENT_PURPOSE,
        to=parent_email,
        content=mail_content.ParentalRequest(
            point=loaded.policy.collection_points[point].title,
            under=kids.under,
            collected=collected,
            purposes=why,
            retention=retention(loaded, point),
            optional=[_purpose_text(loaded, p) for p in optional_purposes(loaded, point)],
            answer_url=link(public_url, token),
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
    opened = open_link(session, secrets, token, lock=True)
    row = opened.row
    if opened.action != ANSWER or row.status != PENDING:
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
    row.confirm_at = now + dt.timedelta(hours=_rule(loaded).confirm_after_hours)
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
    token, row.revoke_nonce = _token(secrets, row.id, REVOKE)
    kept = sorted({u for us in field_purposes.values() for u in us})
    mail.queue_to_person(
        session,
        secrets,
        loaded,
        row.subject_id,
        purpose=PARENT_PURPOSE,
        to=address,
        content=mail_content.ParentalConfirmation(
            point=loaded.policy.collection_points[row.point].title
            if row.point in loaded.policy.collection_points
            else row.point,
            consented=[
                loaded.policy.purposes[u].description for u in kept if u in loaded.policy.purposes
            ],
            refused=[
                loaded.policy.purposes[u].description
                for u in refused
                if u in loaded.policy.purposes
            ],
            revoke_url=link(public_url, token),
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
    opened = open_link(session, secrets, token, lock=True)
    row = opened.row
    if opened.action != REVOKE or row.status != CONSENTED:
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
    kids = _rule(loaded)
    cp = loaded.policy.collection_points.get(row.point)
    name = _birth_field(loaded, cp) if cp is not None else None
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


def due(session: Session, now: dt.datetime) -> tuple[list[str], list[str]]:
    """Return the requests whose confirmation is due, and those whose waiting period is over."""
    confirming = list(
        session.scalars(
            select(ParentalConsent.id).where(
                ParentalConsent.status == CONFIRMING, ParentalConsent.confirm_at <= now
            )
        )
    )
    expired = list(
        session.scalars(
            select(ParentalConsent.id).where(
                ParentalConsent.status == PENDING, ParentalConsent.expires_at <= now
            )
        )
    )
    return confirming, expired


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


def confirm_pass(
    factory: sessionmaker[Session],
    settings: Settings,
    secrets: Secrets,
    loaded: LoadedPolicy,
    now: dt.datetime,
) -> int:
    """Send the confirmations due (one transaction each); return how many. Needs mail."""
    with factory() as session:
        confirming, _ = due(session, now)
    sent = 0
    for request_id in confirming:
        with transaction(factory) as session:
            row = session.get(ParentalConsent, request_id, with_for_update=True)
            if row is None or row.status != CONFIRMING:
                continue
            confirm(session, loaded, secrets, settings.public_url, row, now)
            sent += 1
    return sent


def expire_pass(
    factory: sessionmaker[Session], settings: Settings, loaded: LoadedPolicy, now: dt.datetime
) -> int:
    """Erase the children whose parent did not answer in time (one transaction each), whether
    or not mail is configured now; return how many."""
    with factory() as session:
        _, expired = due(session, now)
    erased = 0
    for request_id in expired:
        with transaction(factory) as session:
            row = session.get(ParentalConsent, request_id, with_for_update=True)
            if row is None or row.status != PENDING:
                continue
            expire(session, loaded, row, now, settings.mail_outbox_path)
            erased += 1
    return erased

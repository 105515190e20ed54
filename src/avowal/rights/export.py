"""Everything held about a person, for them: the privacy center's page, the JSON download and
the API's answer are this one picture (:class:`avowal.rights.schemas.Export`).

Only the person (signed in), the site's back end serving them, or staff handling their checked
request get it; each export is audited (who, for whom; never a value).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.children import lock as parental
from avowal.children.models import ParentalConsent
from avowal.consent import repository as consent_repository
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.lib.person_pages import purpose_label
from avowal.lifecycle.models import Acceptance
from avowal.mail.news_models import Objection
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import RetentionRule
from avowal.rights.schemas import (
    Export,
    ExportAcceptance,
    ExportCookieConsent,
    ExportDisclosure,
    ExportObjection,
    ExportParental,
    ExportReceipt,
    HeldPoint,
    HeldRecipient,
    HeldValue,
    Named,
)
from avowal.vault import repository, retention
from avowal.vault.subjects import living_values


def _when(value: dt.datetime) -> str:
    return clock.iso(clock.aware(value))


def purpose(loaded: LoadedPolicy, key: str) -> Named:
    """Name a purpose for people: the policy's description, else the taxonomy's name."""
    return Named(key=key, name=purpose_label(loaded, key))


def _rule(rule: RetentionRule) -> str:
    after = rule.after.replace("_", " ")
    said = f"kept at most {rule.days} days after {after}"
    return f"{said}: {rule.reason}" if rule.reason else said


def build(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    subject_id: str,
    *,
    actor: str,
    role: str,
) -> Export:
    """Return everything held about a living person, decrypted for them; audit it as ``actor``."""
    key_id, wrapped_key, rows, person = living_values(session, subject_id)
    assert person.created_at is not None  # read with the values
    policy = loaded.policy
    tax = loaded.taxonomy
    # Parental consents and objections are asked about only when the person has any.
    lock = parental.lock_of(session, subject_id) if person.minor else None
    data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id) if rows else b""
    points: dict[str, HeldPoint] = {}
    for row in rows:
        cp = policy.collection_points.get(row.point)
        spec = cp.fields.get(row.field) if cp is not None else None
        category = spec.category if spec is not None else "user"
        kept_as = spec.storage.value if spec is not None else "full"
        value = (
            None
            if row.ciphertext is None
            else cipher.decrypt(data_key, subject_id, row.point, row.field, row.ciphertext)
        )
        held = HeldValue(
            field=row.field,
            label=(spec.label or row.field) if spec is not None else row.field,
            category=Named(key=category, name=tax.label("data_categories", category)),
            value=value,
            kept_as=kept_as,
            collected_at=_when(row.collected_at),
            receipt_id=row.receipt_id,
            notice_id=row.notice_id,
            purposes=[purpose(loaded, p) for p in row.purposes],
            recipients=[
                HeldRecipient(key=r, name=rec.name, kind=rec.kind, country=rec.country)
                for r in row.recipients
                if (rec := policy.recipients.get(r)) is not None
            ],
            retention=[
                _rule(r) for r in policy.retention if retention.applies(r, category, row.purposes)
            ],
            withheld=parental.why_locked(lock) if lock is not None else None,
        )
        title = cp.title if cp is not None else row.point
        points.setdefault(row.point, HeldPoint(point=row.point, title=title, values=[]))
        points[row.point].values.append(held)
    order = list(policy.collection_points)
    ranked = sorted(points.values(), key=lambda p: order.index(p.point) if p.point in order else 99)
    # The receipts, and which of the tables below hold anything of the person: only those are read.
    records = repository.records_of(session, subject_id)
    receipts = [
        ExportReceipt(receipt=dict(r.document), signature=r.signature) for r in records.receipts
    ]
    disclosures = [
        ExportDisclosure(
            at=_when(d.at),
            recipient=Named(
                key=d.recipient,
                name=rec.name if (rec := policy.recipients.get(d.recipient)) else d.recipient,
            ),
            purpose=purpose(loaded, d.purpose),
            fields=list(d.fields),
        )
        for d in (repository.disclosures_of(session, subject_id) if records.disclosed else ())
    ]
    acceptances = [
        ExportAcceptance(version_id=a.version_id, method=a.method, at=_when(a.at))
        for a in (
            session.scalars(
                select(Acceptance)
                .where(Acceptance.subject_id == subject_id)
                .order_by(Acceptance.at)
            )
            if records.accepted
            else ()
        )
    ]
    cookie_consents = [
        ExportCookieConsent(
            consent_id=c.consent_id,
            at=_when(c.at),
            granted=list(c.granted),
            refused=list(c.refused),
            method=c.method,
        )
        for link in (consent_repository.links_of(session, subject_id) if records.linked else ())
        for c in consent_repository.history(session, link.consent_id)
    ]
    objections = [
        ExportObjection(purpose=purpose(loaded, o.purpose), at=_when(o.at), via=o.via)
        for o in (
            session.scalars(
                select(Objection).where(Objection.subject_id == subject_id).order_by(Objection.at)
            )
            if person.objected
            else ()
        )
    ]
    minor = (
        session.scalars(
            select(ParentalConsent)
            .where(ParentalConsent.subject_id == subject_id)
            .order_by(ParentalConsent.requested_at.desc())
            .limit(1)
        ).first()
        if person.minor
        else None
    )
    audit.append(
        session,
        audit.Event(actor=actor, role=role, action="export", subject_id=subject_id),
    )
    return Export(
        generated_at=clock.iso(clock.now()),
        organisation=policy.organisation.name,
        privacy_contact=str(policy.organisation.privacy_contact),
        subject_id=subject_id,
        created_at=_when(person.created_at),
        points=ranked,
        receipts=receipts,
        disclosures=disclosures,
        acceptances=acceptances,
        cookie_consents=cookie_consents,
        objections=objections,
        parental_consent=None
        if minor is None
        else ExportParental(
            status=minor.status, point=minor.point, refused_purposes=list(minor.refused_purposes)
        ),
    )

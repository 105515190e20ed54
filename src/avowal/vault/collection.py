"""Collection: only declared fields, under the current notice, sealed in a signed receipt."""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.children import gate
from avowal.children import service as parental
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock, text
from avowal.lifecycle import acceptance
from avowal.mail import service as mail
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import Storage
from avowal.settings import Settings
from avowal.vault import activity, notices, receipts, repository, values
from avowal.vault.exceptions import (
    InvalidValue,
    MissingField,
    ReceiptNotFound,
    StaleNotice,
    SubjectNotFound,
    UnknownField,
)
from avowal.vault.models import Subject
from avowal.vault.schemas import Collected, CollectRequest, Notice, SignedReceipt
from avowal.vault.subjects import living_subject


def shown_notice(
    loaded: LoadedPolicy, caller: Caller, point: str, notice_id: str, then: str
) -> Notice:
    """Return the point's current notice, refusing a caller granted none of its purposes, or a
    notice shown that is not the current one (``then`` says what to do after showing it)."""
    note = notices.notice(loaded, point)
    point_purposes = [p.key for p in note.purposes]
    if not any(caller.grants(p) for p in point_purposes):
        raise PurposeNotGranted(
            f"role '{caller.role}' grants none of the purposes of '{point}'",
            role=caller.role,
            point=point,
            purposes=point_purposes,
        )
    if notice_id != note.notice_id:
        raise StaleNotice(
            "the notice shown is not the current notice of this collection point; show the "
            f"current one and {then}",
            point=point,
            notice_id=notice_id,
            current_notice_id=note.notice_id,
        )
    return note


def _check(
    loaded: LoadedPolicy, point: str, body: CollectRequest, caller: Caller, mail_on: bool
) -> tuple[Notice, dict[str, str], bool]:
    """Validate everything before anything is written; return the notice and normalised values."""
    # Text that cannot be stored, or nesting past any sane depth, is refused naming the field.
    text.check_tree(body.values, "values")
    note = shown_notice(loaded, caller, point, body.notice_id, "collect again")
    specs = loaded.policy.collection_points[point].fields
    unknown = sorted(set(body.values) - set(specs))
    if unknown:
        raise UnknownField(
            f"field{'s' if len(unknown) > 1 else ''} {', '.join(repr(u) for u in unknown)} "
            f"{'are' if len(unknown) > 1 else 'is'} not declared at '{point}': personal data is "
            "collected only through declared fields",
            fields=unknown,
            point=point,
            declared=sorted(specs),
        )
    missing = sorted(n for n, s in specs.items() if s.required and body.values.get(n) in (None, ""))
    if missing:
        raise MissingField(
            f"required field{'s' if len(missing) > 1 else ''} missing: {', '.join(missing)}",
            fields=missing,
            point=point,
        )
    given = {n: v for n, v in body.values.items() if v is not None}
    if not given:
        raise InvalidValue("no values given", point=point)
    normalised = {n: values.normalise(n, specs[n], v) for n, v in given.items()}
    # The age gate: a minor is refused where minors are not admitted, and needs a parent where
    # they are. Checked before anything is written.
    minor = gate.gate(loaded, point, normalised, body, mail_on)
    return note, normalised, minor


def _subject(
    session: Session, secrets: Secrets, body: CollectRequest, now: dt.datetime
) -> tuple[Subject, bytes, bool]:
    """Return the living person collected for (created on a first collection), their data key,
    and whether they were created now.

    An existing person's row is locked and re-checked: an erasure, a disclosure or another
    collection for them waits for this one, or this one for them.
    """
    ref = body.subject
    if ref.subject_id is not None:
        subj = living_subject(session, ref.subject_id, lock=True)
    else:
        assert ref.ref is not None
        # The insert is tried first: it does nothing when a living person holds the ref (an
        # erased one's ref is cleared), and two first collections for the same ref may race: the
        # loser's insert does nothing (on PostgreSQL after waiting for the winner's commit) and
        # it joins the winner.
        fresh = Subject(id=str(uuid.uuid4()), ref=ref.ref, created_at=now)
        data_key = cipher.new_data_key()
        fresh.key_id, fresh.wrapped_key = secrets.keyring.wrap(data_key, fresh.id)
        fresh.last_activity_at = now  # they gave data
        if repository.add_subject(session, fresh):
            return fresh, data_key, True
        found = repository.id_by_ref(session, ref.ref)
        if found is None:
            # The ref's holder was erased between the two statements: collect again.
            raise SubjectNotFound("the person with this ref was erased meanwhile; collect again")
        subj = living_subject(session, found, lock=True)
    assert subj.key_id is not None and subj.wrapped_key is not None  # living
    return subj, secrets.keyring.unwrap(subj.key_id, subj.wrapped_key, subj.id), False


def collect(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    point: str,
    body: CollectRequest,
    settings: Settings | None = None,
) -> Collected:
    """Store a person's values under the current notice and return the signed receipt.

    A person under the children threshold is stored locked, and their parent asked
    (:mod:`avowal.children.service`); ``settings`` say whether mail goes out, and where links
    point.
    """
    mail_on = settings is not None and mail.mail_configured(settings)
    note, normalised, minor = _check(loaded, point, body, caller, mail_on)
    issued = clock.now()
    subj, data_key, created = _subject(session, secrets, body, issued)
    specs = loaded.policy.collection_points[point].fields
    field_purposes = {f.name: f.purposes for f in note.fields if f.name in normalised}
    recipients = [r.key for r in note.recipients]
    activity.touch(subj, issued)
    doc, signature = receipts.issue(session, loaded, secrets, subj.id, note, field_purposes, issued)
    if not created:  # a person created now holds nothing yet to supersede
        repository.replace_values(session, subj.id, point, list(normalised))
    held: list[dict[str, object]] = []
    digests: list[dict[str, object]] = []
    for name, value in normalised.items():
        spec = specs[name]
        kept = values.stored_form(name, spec, value, secrets.index_key)
        held.append(
            {
                "subject_id": subj.id,
                "receipt_id": doc["receipt_id"],
                "point": point,
                "field": name,
                "purposes": field_purposes[name],
                "recipients": recipients,
                "notice_id": note.notice_id,
                "ciphertext": None
                if kept is None
                else cipher.encrypt(data_key, subj.id, point, name, kept),
                "collected_at": issued,
            }
        )
        if spec.lookup and spec.storage is not Storage.none:
            digest = cipher.blind_index(secrets.index_key, name, values.lookup_form(spec, value))
            digests.append({"subject_id": subj.id, "point": point, "field": name, "digest": digest})
    repository.add_values(session, held, digests)
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="collect",
            subject_id=subj.id,
            fields=sorted(normalised),
            reason=f"point {point}, notice {note.notice_id[:16]}",
        ),
    )
    if not created:  # continued use accepts a version only of someone who lived under another
        acceptance.after_collect(session, caller, subj.id)
    pending = None
    if minor:
        assert settings is not None and body.parent is not None  # the gate required both
        pending = parental.request(
            session,
            loaded,
            secrets,
            settings.public_url,
            subj.id,
            data_key,
            point,
            str(body.parent.email),
            sorted(normalised),
        )
    return Collected.model_validate(
        {
            "subject_id": subj.id,
            "receipt": doc,
            "signature": signature,
            "parental_consent": pending,
        }
    )


def get_receipt(session: Session, receipt_id: str) -> SignedReceipt:
    """Return a stored receipt with its signature."""
    row = repository.receipt(session, receipt_id)
    if row is None:
        raise ReceiptNotFound(f"no receipt {receipt_id}", receipt_id=receipt_id)
    return SignedReceipt.model_validate({"receipt": row.document, "signature": row.signature})

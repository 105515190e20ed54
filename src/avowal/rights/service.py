"""A person's rights, written once: correct a value, withdraw a purpose, object to
communications (erasing the account: :mod:`avowal.rights.erasure`).

The privacy center (the person, signed in), the API (the site's back end relaying the person's
request) and the console (staff carrying out a checked request) all call these; each is audited
with who acted. The person's row is locked for each, like a collection or an erasure.
"""

from __future__ import annotations

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.children import gate
from avowal.children import lock as parental
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.db import engine as db
from avowal.lib import clock, text
from avowal.mail import news, objections
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import Storage
from avowal.policy.taxonomy import is_within
from avowal.rights.exceptions import (
    NotCorrectable,
    NotObjectable,
    NotWithdrawable,
    PersonLocked,
    RightNotAllowed,
)
from avowal.rights.schemas import Corrected, Objected, Withdrawn
from avowal.vault import erasure, notices, receipts, repository, values
from avowal.vault.exceptions import UnknownField, UnknownPoint, UnknownPurpose
from avowal.vault.models import PersonalValue
from avowal.vault.subjects import living_subject, living_values, lock_living

# The person themselves, signed in to the privacy center: how the audit names them.
PERSON, PERSON_ROLE = "the person", "data_subject"
# What cannot be withdrawn: the service the person uses. To stop it, they erase the account.
ESSENTIAL = "essential"


def require_may_act(session: Session, caller: Caller, action: str, subject_id: str | None) -> None:
    """Refuse (audited) a caller that may not act on a person's request.

    The same callers who may erase someone (:func:`avowal.vault.erasure.may_erase`): the site's
    back end serving the person, or whoever answers for legal obligations.
    """
    if erasure.may_erase(caller):
        return
    exc = RightNotAllowed(
        f"role '{caller.role}' may not act on a person's rights: only the site's back end "
        "serving them or a role answering for legal obligations may",
        role=caller.role,
    )
    raise audit.refuse(
        session,
        exc,
        actor=caller.name,
        role=caller.role,
        action=action,
        subject_id=subject_id,
        fields=[],
        purpose=None,
    )


def _not_locked(session: Session, subject_id: str) -> None:
    lock = parental.lock_of(session, subject_id)
    if lock is not None:
        raise PersonLocked(
            f"nothing can change for this person yet: {parental.why_locked(lock)}",
            subject_id=subject_id,
        )


def _leave_no_copy(session: Session) -> None:
    # SQLite's log keeps a destroyed value's old page images (readable with the person's key,
    # which lives on) until it is checkpointed.
    engine = session.get_bind()
    if isinstance(engine, Engine):
        db.after_commit(session, lambda: db.purge_wal(engine))


def not_correctable(loaded: LoadedPolicy, point: str, field: str) -> str | None:
    """Say why a declared field's value cannot be corrected, or None when it can (the one rule).

    Nothing kept of it, nothing to correct; the field the age gate reads is given again at its
    point instead, since a changed date of birth changes who must consent.
    """
    cp = loaded.policy.collection_points[point]
    if cp.fields[field].storage is Storage.none:
        return f"nothing of '{field}' is kept, so there is nothing to correct"
    if field == gate.birth_field(loaded, cp):
        return (
            "a date of birth decides whether a parent must consent: give it again at "
            f"'{point}' instead of correcting it"
        )
    return None


def correct(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    subject_id: str,
    point: str,
    field: str,
    value: str,
    *,
    actor: str,
    role: str,
) -> Corrected:
    """Replace a held value with a corrected one: the old one destroyed, a new signed receipt.

    The value keeps its terms (purposes, recipients, notice, collection time); only what is
    kept changes. The field the age gate reads is not corrected here: a changed date of birth
    changes who must consent, so it is collected again at its point.
    """
    cp = loaded.policy.collection_points.get(point)
    if cp is None:
        raise UnknownPoint(f"no collection point '{point}' in the policy", point=point)
    spec = cp.fields.get(field)
    if spec is None:
        raise UnknownField(
            f"'{field}' is not a field of '{point}'",
            fields=[field],
            point=point,
            declared=sorted(cp.fields),
        )
    why_not = not_correctable(loaded, point, field)
    if why_not is not None:
        raise NotCorrectable(why_not, field=field, point=point)
    text.check(value, "value")
    normalised = values.normalise(field, spec, value)
    # The person's row locked, their key and values, and whether they have any parental consent
    # request, in one statement.
    living = living_values(session, subject_id, lock=True)
    if living.person.minor:
        _not_locked(session, subject_id)
    held = next((v for v in living.rows if v.point == point and v.field == field), None)
    if held is None:
        raise NotCorrectable(
            f"no value of '{field}' is held at '{point}' for this person: a value is corrected, "
            "not added (collect it at the point instead)",
            field=field,
            point=point,
        )
    data_key = secrets.keyring.unwrap(living.key_id, living.wrapped_key, subject_id)
    purposes, recipients = list(held.purposes), list(held.recipients)
    notice_id, collected_at, old_receipt = held.notice_id, held.collected_at, held.receipt_id
    doc, signature = receipts.issue(
        session,
        loaded,
        secrets,
        subject_id,
        notices.notice(loaded, point),
        {field: purposes},
        clock.now(),
        held_under=(notice_id, recipients),
        basis="correction",
        corrects_receipt_id=old_receipt,
    )
    repository.replace_values(session, subject_id, point, [field])
    _leave_no_copy(session)
    kept = values.stored_form(field, spec, normalised, secrets.index_key)
    new_value: dict[str, object] = {
        "subject_id": subject_id,
        "receipt_id": doc["receipt_id"],
        "point": point,
        "field": field,
        "purposes": purposes,
        "recipients": recipients,
        "notice_id": notice_id,
        "ciphertext": None
        if kept is None
        else cipher.encrypt(data_key, subject_id, point, field, kept),
        "collected_at": collected_at,
    }
    digests: list[dict[str, object]] = []
    if spec.lookup:
        digest = cipher.blind_index(secrets.index_key, field, values.lookup_form(spec, normalised))
        digests.append({"subject_id": subject_id, "point": point, "field": field, "digest": digest})
    repository.add_values(session, [new_value], digests)
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="correct",
            subject_id=subject_id,
            fields=[field],
            reason=f"point {point}: the old value destroyed, receipt {doc['receipt_id'][:8]}",
        ),
    )
    return Corrected(
        subject_id=subject_id, point=point, field=field, receipt=doc, signature=signature
    )


def withdrawable(loaded: LoadedPolicy, purpose: str) -> bool:
    """Tell whether a person may withdraw a purpose: any declared use but the service itself."""
    return purpose in loaded.taxonomy.data_uses and not is_within(purpose, ESSENTIAL)


def held_purposes(session: Session, subject_id: str) -> list[str]:
    """Return the purposes a living person's values are held for."""
    rows = living_values(session, subject_id).rows
    return sorted({p for r in rows for p in r.purposes})


def withdraw(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    subject_id: str,
    purpose: str,
    *,
    actor: str,
    role: str,
) -> Withdrawn:
    """Take ``purpose`` (and the uses within it) away from every value held for it, at once.

    The next read for it finds the values withheld; a value left with no purpose is destroyed.
    Each point's changed values get a signed receipt saying so (basis ``withdrawal``).
    """
    if purpose not in loaded.taxonomy.data_uses:
        raise UnknownPurpose(
            f"'{text.clean(purpose)}' is not a data use of the taxonomy",
            purpose=text.clean(purpose),
        )
    if not withdrawable(loaded, purpose):
        raise NotWithdrawable(
            f"{purpose} is the service the person uses, not a choice of theirs: to stop it, "
            "the account is erased",
            purpose=purpose,
        )
    living_subject(session, subject_id, lock=True)
    _not_locked(session, subject_id)
    rows = list(
        session.scalars(
            select(PersonalValue)
            .where(PersonalValue.subject_id == subject_id)
            .order_by(PersonalValue.point, PersonalValue.field)
        )
    )
    touched = [r for r in rows if any(is_within(p, purpose) for p in r.purposes)]
    if not touched:
        raise NotWithdrawable(
            f"nothing of this person's is held for {purpose}: there is nothing to withdraw",
            purpose=purpose,
        )
    now = clock.now()
    receipt_ids: list[str] = []
    destroyed: list[PersonalValue] = []
    by_terms: dict[tuple[str, str], list[PersonalValue]] = {}
    for row in touched:
        by_terms.setdefault((row.point, row.notice_id), []).append(row)
    for (point, notice_id), group in by_terms.items():
        remaining = {r.field: [p for p in r.purposes if not is_within(p, purpose)] for r in group}
        doc, _ = receipts.issue(
            session,
            loaded,
            secrets,
            subject_id,
            notices.notice(loaded, point),
            remaining,
            now,
            held_under=(notice_id, list(group[0].recipients)),
            basis="withdrawal",
            withdrawn_purpose=purpose,
            replaces_receipt_ids=sorted({r.receipt_id for r in group}),
        )
        receipt_ids.append(doc["receipt_id"])
        session.flush()
        for row in group:
            if remaining[row.field]:
                row.purposes = remaining[row.field]
                row.receipt_id = doc["receipt_id"]
            else:
                destroyed.append(row)
    repository.destroy_values(session, subject_id, [(row.point, row.field) for row in destroyed])
    if destroyed:
        _leave_no_copy(session)
    audit.append(
        session,
        audit.Event(
            actor=actor,
            role=role,
            action="withdraw",
            subject_id=subject_id,
            fields=sorted({r.field for r in touched}),
            purpose=purpose,
            reason=f"{len(touched)} value(s) no longer held for it, {len(destroyed)} destroyed",
        ),
    )
    return Withdrawn(
        subject_id=subject_id,
        purpose=purpose,
        values_changed=len(touched),
        values_destroyed=len(destroyed),
        receipt_ids=receipt_ids,
    )


def objectable(loaded: LoadedPolicy, purpose: str) -> bool:
    """Tell whether a purpose is one of communications, which a person may object to."""
    return purpose in loaded.taxonomy.data_uses and any(
        is_within(purpose, f) for f in news.FAMILIES
    )


def object_to(
    session: Session,
    loaded: LoadedPolicy,
    subject_id: str,
    purpose: str,
    via: str,
    *,
    actor: str,
    role: str,
) -> Objected:
    """Record a person's objection to communications for ``purpose`` (a repeat changes nothing).

    It is the same objection an unsubscribe link records: reads, lookups and news skip them.
    """
    if purpose not in loaded.taxonomy.data_uses:
        raise UnknownPurpose(
            f"'{text.clean(purpose)}' is not a data use of the taxonomy",
            purpose=text.clean(purpose),
        )
    if not objectable(loaded, purpose):
        raise NotObjectable(
            f"an objection is to communications: a use within {' or '.join(news.FAMILIES)}, "
            f"not '{text.clean(purpose)}'",
            purpose=text.clean(purpose),
        )
    lock_living(session, subject_id)
    new = objections.record(session, subject_id, purpose, via)
    if new:
        audit.append(
            session,
            audit.Event(
                actor=actor,
                role=role,
                action="objection",
                subject_id=subject_id,
                purpose=purpose,
                reason=f"objected via {via}",
            ),
        )
    return Objected(subject_id=subject_id, purpose=purpose, new=new)

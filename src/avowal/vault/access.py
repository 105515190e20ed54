"""Access: purpose-bound reads, lookups, disclosures to announced recipients, and erasure."""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.children import lock as parental
from avowal.children.exceptions import ParentalConsentPending
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock, text
from avowal.lib.errors import AvowalError
from avowal.lifecycle import acceptance
from avowal.mail import objections
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import Storage
from avowal.policy.taxonomy import LEGAL_OBLIGATION, is_within
from avowal.vault import activity, repository, terms, values
from avowal.vault.exceptions import (
    LookupNotAllowed,
    RecipientNotAnnounced,
    RecipientNotDeclared,
    SubjectNotFound,
    UnknownPurpose,
    UnknownRecipient,
)
from avowal.vault.schemas import (
    Disclosed,
    DisclosureEntry,
    Found,
    ReadResult,
    ReadValue,
    Withheld,
)
from avowal.vault.subjects import living_values


def _refuse(
    session: Session,
    caller: Caller,
    action: str,
    subject_id: str | None,
    fields: list[str],
    purpose: str | None,
    exc: AvowalError,
) -> AvowalError:
    """Audit a refused access; the caller raises the returned exception."""
    return audit.refuse(
        session,
        exc,
        actor=caller.name,
        role=caller.role,
        action=action,
        subject_id=subject_id,
        fields=fields,
        purpose=purpose,
    )


def _authorise(
    session: Session,
    loaded: LoadedPolicy,
    caller: Caller,
    action: str,
    subject_id: str | None,
    fields: list[str],
    purpose: str,
) -> None:
    if purpose not in loaded.taxonomy.data_uses:
        raise UnknownPurpose(
            f"'{text.clean(purpose)}' is not a data use of the taxonomy",
            purpose=text.clean(purpose),
        )
    try:
        caller.require(purpose)
    except PurposeNotGranted as exc:
        raise _refuse(session, caller, action, subject_id, fields, purpose, exc) from None


def _when(collected: dt.datetime | str) -> str:
    # SQLite hands the stored UTC time back naive: say it is UTC on both databases.
    return clock.iso(collected) if isinstance(collected, dt.datetime) else str(collected)


def read(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    subject_id: str,
    purpose: str,
    fields: list[str] | None = None,
) -> ReadResult:
    """Return only the values collected for ``purpose`` (or a parent); list the rest as withheld."""
    _authorise(session, loaded, caller, "read", subject_id, fields or [], purpose)
    key_id, wrapped_key, rows, person = living_values(session, subject_id)
    data_key: bytes | None = None
    out: dict[str, ReadValue] = {}
    withheld: list[Withheld] = []
    wanted = set(fields) if fields else None
    # The tables are asked only about someone who has rows in them (read with the values).
    locked, refused = (
        parental.standing(session, subject_id) if person.minor else parental.NOT_A_MINOR
    )
    objected = person.objected and objections.objects_to(session, subject_id, purpose)
    for row in rows:
        if wanted is not None and row.field not in wanted:
            continue
        if locked is not None:
            withheld.append(
                Withheld(
                    field=row.field,
                    point=row.point,
                    reason=parental.REASON,
                    detail=parental.why_locked(locked),
                )
            )
            continue
        term = terms.for_purpose(loaded, row.point, row.field, row.purposes, purpose)
        if objected and term is terms.Term.allowed:
            withheld.append(
                Withheld(
                    field=row.field,
                    point=row.point,
                    reason=objections.REASON,
                    detail=f"the person objected to {purpose} (unsubscribed)",
                )
            )
            continue
        if term is not terms.Term.allowed:
            # Only a field the point collects for that use was refused by the parent.
            if term.needs_consent and any(is_within(purpose, r) for r in refused):
                withheld.append(
                    Withheld(
                        field=row.field,
                        point=row.point,
                        reason="refused_by_parent",
                        detail=f"the person's parent refused {purpose} when consenting",
                    )
                )
                continue
            withheld.append(terms.withheld(loaded, subject_id, row, purpose, term))
            continue
        if data_key is None:
            data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
        out[row.field] = ReadValue(
            value=None
            if row.ciphertext is None
            else cipher.decrypt(data_key, subject_id, row.point, row.field, row.ciphertext),
            point=row.point,
            receipt_id=row.receipt_id,
            collected_at=_when(row.collected_at),
        )
    seen = set(out) | {w.field for w in withheld}
    withheld += [
        Withheld(field=f, point=None, reason="not_collected", detail="no value")
        for f in sorted((wanted or set()) - seen)
    ]
    # A value withheld at one point may be returned from another; only report true refusals.
    withheld = [w for w in withheld if w.field not in out]
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="read",
            subject_id=subject_id,
            fields=sorted(out),
            purpose=purpose,
            reason=f"withheld: {', '.join(sorted({w.field for w in withheld}))}"
            if withheld
            else None,
        ),
    )
    acceptance.after_read(session, loaded, caller, subject_id, purpose)
    activity.after_read(session, loaded, caller, subject_id, purpose)
    return ReadResult(subject_id=subject_id, purpose=purpose, values=out, withheld=withheld)


def lookup(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    field: str,
    value: str,
    purpose: str,
) -> Found:
    """Find people by a lookup field through its blind index, decrypting no one.

    Only people whose value was collected for a use within ``purpose`` are found; anyone else
    is answered exactly as someone unknown (the answer is no oracle), and the refusal audited.
    """
    specs = [
        cp.fields[field]
        for cp in loaded.policy.collection_points.values()
        if field in cp.fields
        and cp.fields[field].lookup
        and cp.fields[field].storage is not Storage.none
    ]
    if not specs:
        raise LookupNotAllowed(
            f"'{text.clean(field)}' is not a lookup field of any collection point",
            field=text.clean(field),
        )
    _authorise(session, loaded, caller, "lookup", None, [field], purpose)
    text.check(value, "value")
    digest = cipher.blind_index(
        secrets.index_key,
        field,
        values.lookup_form(specs[0], values.normalise(field, specs[0], value)),
    )
    hits = repository.find_by_digest(session, field, digest)
    # A minor whose parent has not consented is answered as someone unknown, like the others.
    # (The tables are asked only about people with rows there, as the hits say.)
    locked = parental.locked_among(session, (h.subject_id for h in hits if h.minor))
    # So is someone who objected to the purpose (unsubscribed).
    objected = objections.objectors_among(
        session, (h.subject_id for h in hits if h.objected), purpose
    )
    found = sorted(
        {
            h.subject_id
            for h in hits
            if terms.covers(h.purposes, purpose) and h.subject_id not in locked | objected
        }
    )
    withheld: dict[str, set[str]] = {}
    # Added to the point's notice later: refused all the same until the person consents.
    pending: set[str] = set()
    for h in hits:
        if h.subject_id not in found:
            withheld.setdefault(h.subject_id, set()).update(h.purposes)
            if terms.for_purpose(loaded, h.point, field, h.purposes, purpose).needs_consent:
                pending.add(h.subject_id)
    events = [
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="lookup",
            subject_id=s,
            fields=[field],
            purpose=purpose,
            reason=f"{len(found)} match(es)",
        )
        # One entry even when no one matches.
        for s in (list[str | None](found) or ([] if withheld else [None]))
    ]
    events += [
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="lookup",
            decision="deny",
            subject_id=s,
            fields=[field],
            purpose=purpose,
            reason=f"answered as unknown: {parental.WHY_SHORT}"
            if s in locked
            else f"answered as unknown: the person objected to {purpose}"
            if s in objected
            else f"answered as unknown: {field} was collected for {', '.join(sorted(uses))} "
            f"only, not for {purpose}"
            + ("; added later, it needs the person's explicit consent" if s in pending else ""),
        )
        for s, uses in sorted(withheld.items())
    ]
    audit.append_many(session, events)
    return Found(field=field, purpose=purpose, subject_ids=found)


def disclose(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    subject_id: str,
    recipient: str,
    fields: list[str],
    purpose: str,
) -> Disclosed:
    """Hand values to a recipient only when their notice announced it and the policy declares it
    for the purpose and the values' categories; record it."""
    rec = loaded.policy.recipients.get(recipient)
    if rec is None:
        raise UnknownRecipient(
            f"'{text.clean(recipient)}' is not a recipient declared in the policy",
            recipient=text.clean(recipient),
            declared=sorted(loaded.policy.recipients),
        )
    _authorise(session, loaded, caller, "disclose", subject_id, fields, purpose)
    # The person's row is locked: an erasure waits until the disclosure is recorded, or wins.
    key_id, wrapped_key, rows, person = living_values(session, subject_id, lock=True)
    locked = parental.lock_of(session, subject_id) if person.minor else None
    if locked is not None:
        refusal: AvowalError = ParentalConsentPending(
            f"nothing of this person's may be disclosed: {parental.why_locked(locked)}",
            subject_id=subject_id,
            recipient=recipient,
            purpose=purpose,
        )
        raise _refuse(session, caller, "disclose", subject_id, sorted(fields), purpose, refusal)
    if not any(is_within(purpose, p) for p in rec.purposes):
        exc: AvowalError = RecipientNotDeclared(
            f"'{recipient}' is declared in the policy for {', '.join(rec.purposes) or 'nothing'} "
            f"only, not for {purpose}",
            recipient=recipient,
            purpose=purpose,
            mismatch="purpose",
            declared_purposes=list(rec.purposes),
        )
        raise _refuse(session, caller, "disclose", subject_id, sorted(fields), purpose, exc)
    points = loaded.policy.collection_points
    chosen: dict[str, repository.ValueRow] = {}
    refused: dict[str, list[str]] = {}
    undeclared: dict[str, str] = {}
    pending: dict[str, list[repository.ValueRow]] = {}
    for row in rows:
        if row.field not in fields:
            continue
        term = terms.for_disclosure(loaded, row, recipient, purpose)
        if term is terms.Term.not_announced:
            refused.setdefault(row.field, []).append(row.notice_id)
            continue
        spec = points[row.point].fields.get(row.field) if row.point in points else None
        category = spec.category if spec is not None else "unknown"
        if not any(is_within(category, c) for c in rec.categories):
            undeclared[row.field] = category
            continue
        if term is terms.Term.consent_required:
            pending.setdefault(row.field, []).append(row)
            continue
        chosen[row.field] = row
    not_announced = sorted(f for f in fields if f not in {*chosen, *undeclared, *pending})
    if not_announced:
        exc = RecipientNotAnnounced(
            f"'{recipient}' was not announced for {purpose} when "
            f"{', '.join(not_announced)} {'were' if len(not_announced) > 1 else 'was'} collected",
            recipient=recipient,
            purpose=purpose,
            fields=not_announced,
            notices=sorted({n for f in not_announced for n in refused.get(f, [])}),
        )
        raise _refuse(session, caller, "disclose", subject_id, sorted(fields), purpose, exc)
    if undeclared:
        named = sorted(undeclared)
        exc = RecipientNotDeclared(
            f"'{recipient}' is declared in the policy for the data categories "
            f"{', '.join(rec.categories) or 'none'} only; "
            + ", ".join(f"{f} is {undeclared[f]}" for f in named),
            recipient=recipient,
            purpose=purpose,
            mismatch="category",
            fields=named,
            categories=[undeclared[f] for f in named],
            declared_categories=list(rec.categories),
        )
        raise _refuse(session, caller, "disclose", subject_id, sorted(fields), purpose, exc)
    pending = {f: r for f, r in pending.items() if f not in chosen}
    if pending:
        exc = terms.consent_required(loaded, subject_id, recipient, purpose, pending)
        raise _refuse(session, caller, "disclose", subject_id, sorted(fields), purpose, exc)
    data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
    disclosed = {
        f: None
        if row.ciphertext is None
        else cipher.decrypt(data_key, subject_id, row.point, f, row.ciphertext)
        for f, row in chosen.items()
    }
    record = repository.add_disclosure(
        session,
        subject_id=subject_id,
        recipient=recipient,
        purpose=purpose,
        fields=sorted(chosen),
        receipt_ids=sorted({row.receipt_id for row in chosen.values()}),
        actor=caller.name,
        at=clock.now(),
    )
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="disclose",
            subject_id=subject_id,
            fields=sorted(chosen),
            purpose=purpose,
            reason=f"to {recipient}",
        ),
    )
    return Disclosed(
        disclosure_id=record["id"],
        recipient=recipient,
        purpose=purpose,
        values=disclosed,
        receipt_ids=list(record["receipt_ids"]),
    )


def disclosures(
    session: Session, loaded: LoadedPolicy, caller: Caller, subject_id: str, purpose: str
) -> list[DisclosureEntry]:
    """Return the disclosures of a person's data made for uses within ``purpose``.

    Whoever answers for legal obligations sees the whole register; anyone else, the
    disclosures made for the work their purpose covers.
    """
    _authorise(session, loaded, caller, "register", subject_id, [], purpose)
    register = repository.register_of(session, subject_id)
    if register is None:
        raise SubjectNotFound(f"no subject {subject_id}", subject_id=subject_id)
    entries = [
        DisclosureEntry(
            disclosure_id=d.id,
            recipient=d.recipient,
            purpose=d.purpose,
            fields=d.fields,
            receipt_ids=d.receipt_ids,
            actor=d.actor,
            at=d.at.isoformat(),
        )
        for d in register
        if purpose == LEGAL_OBLIGATION or is_within(d.purpose, purpose)
    ]
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="register",
            subject_id=subject_id,
            purpose=purpose,
        ),
    )
    return entries

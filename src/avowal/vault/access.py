"""Access: purpose-bound reads, lookups, disclosures to announced recipients, and erasure."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.db import engine as db
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import Storage
from avowal.vault import repository, values
from avowal.vault.exceptions import (
    ErasureNotAllowed,
    LookupNotAllowed,
    RecipientNotAnnounced,
    SubjectErased,
    SubjectNotFound,
    UnknownPurpose,
    UnknownRecipient,
)
from avowal.vault.models import Disclosure, Subject


def _covers(granted: list[str], purpose: str) -> bool:
    """Tell whether a value collected for ``granted`` may be used for ``purpose``."""
    return any(purpose == g or purpose.startswith(g + ".") for g in granted)


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
        raise UnknownPurpose(f"'{purpose}' is not a data use of the taxonomy", purpose=purpose)
    try:
        caller.require(purpose)
    except PurposeNotGranted as exc:
        raise _refuse(session, caller, action, subject_id, fields, purpose, exc) from None


def _living(session: Session, subject_id: str) -> Subject:
    subj = repository.subject(session, subject_id)
    if subj is None:
        raise SubjectNotFound(f"no subject {subject_id}", subject_id=subject_id)
    if subj.erased_at is not None or subj.wrapped_key is None or subj.key_id is None:
        raise SubjectErased(
            f"subject {subject_id} was erased",
            subject_id=subject_id,
            erased_at=subj.erased_at.isoformat() if subj.erased_at else None,
        )
    return subj


def _living_values(
    session: Session, subject_id: str
) -> tuple[str, bytes, list[repository.ValueRow]]:
    """Return a living subject's master key id, wrapped data key and values; refuse like _living.

    Reads and disclosures need only the key and the values: one statement, and no object loaded.
    """
    key, rows = repository.key_and_values(session, subject_id)
    if key is None:
        raise SubjectNotFound(f"no subject {subject_id}", subject_id=subject_id)
    erased_at, key_id, wrapped_key = key
    if erased_at is not None or wrapped_key is None or key_id is None:
        raise SubjectErased(
            f"subject {subject_id} was erased",
            subject_id=subject_id,
            erased_at=erased_at.isoformat() if erased_at else None,
        )
    return key_id, wrapped_key, rows


def read(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    subject_id: str,
    purpose: str,
    fields: list[str] | None = None,
) -> dict[str, Any]:
    """Return only the values collected for ``purpose`` (or a parent); list the rest as withheld."""
    _authorise(session, loaded, caller, "read", subject_id, fields or [], purpose)
    key_id, wrapped_key, rows = _living_values(session, subject_id)
    data_key: bytes | None = None
    out: dict[str, Any] = {}
    withheld: list[dict[str, Any]] = []
    wanted = set(fields) if fields else None
    for row in rows:
        point, field, purposes, _recipients, notice_id, receipt_id, blob, collected = row
        if wanted is not None and field not in wanted:
            continue
        if not _covers(purposes, purpose):
            withheld.append(
                {
                    "field": field,
                    "point": point,
                    "reason": "purpose_not_allowed",
                    "detail": f"collected under notice {notice_id[:16]} "
                    f"for {', '.join(purposes)} only",
                }
            )
            continue
        if data_key is None:
            data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
        out[field] = {
            "value": None
            if blob is None
            else cipher.decrypt(data_key, subject_id, point, field, blob),
            "point": point,
            "receipt_id": receipt_id,
            "collected_at": collected.isoformat()
            if isinstance(collected, dt.datetime)
            else str(collected),
        }
    seen = set(out) | {w["field"] for w in withheld}
    withheld += [
        {"field": f, "point": None, "reason": "not_collected", "detail": "no value"}
        for f in sorted((wanted or set()) - seen)
    ]
    # A value withheld at one point may be returned from another; only report true refusals.
    withheld = [w for w in withheld if w["field"] not in out]
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="read",
            subject_id=subject_id,
            fields=sorted(out),
            purpose=purpose,
            reason=f"withheld: {', '.join(sorted({w['field'] for w in withheld}))}"
            if withheld
            else None,
        ),
    )
    return {"subject_id": subject_id, "purpose": purpose, "values": out, "withheld": withheld}


def lookup(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    field: str,
    value: str,
    purpose: str,
) -> dict[str, Any]:
    """Find people by a lookup field through its blind index, decrypting no one."""
    specs = [
        cp.fields[field]
        for cp in loaded.policy.collection_points.values()
        if field in cp.fields
        and cp.fields[field].lookup
        and cp.fields[field].storage is not Storage.none
    ]
    if not specs:
        raise LookupNotAllowed(
            f"'{field}' is not a lookup field of any collection point", field=field
        )
    _authorise(session, loaded, caller, "lookup", None, [field], purpose)
    digest = cipher.blind_index(
        secrets.index_key,
        field,
        values.lookup_form(specs[0], values.normalise(field, specs[0], value)),
    )
    found: list[str | None] = list(repository.find_by_digest(session, field, digest))
    audit.append_many(
        session,
        [
            audit.Event(
                actor=caller.name,
                role=caller.role,
                action="lookup",
                subject_id=s,
                fields=[field],
                purpose=purpose,
                reason=f"{len(found)} match(es)",
            )
            for s in (found or [None])  # one entry even when no one matches
        ],
    )
    return {"field": field, "purpose": purpose, "subject_ids": found}


def disclose(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    subject_id: str,
    recipient: str,
    fields: list[str],
    purpose: str,
) -> dict[str, Any]:
    """Hand values to a recipient only when their notice announced it, and record it."""
    rec = loaded.policy.recipients.get(recipient)
    if rec is None:
        raise UnknownRecipient(
            f"'{recipient}' is not a recipient declared in the policy",
            recipient=recipient,
            declared=sorted(loaded.policy.recipients),
        )
    _authorise(session, loaded, caller, "disclose", subject_id, fields, purpose)
    key_id, wrapped_key, rows = _living_values(session, subject_id)
    chosen: dict[str, Any] = {}
    refused: dict[str, list[str]] = {}
    for row in rows:
        point, field, purposes, recipients, notice_id, receipt_id, blob, _ = row
        if field not in fields:
            continue
        if recipient in recipients and _covers(purposes, purpose):
            chosen[field] = (point, receipt_id, blob)
        else:
            refused.setdefault(field, []).append(notice_id)
    not_announced = sorted(f for f in fields if f not in chosen)
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
    data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
    disclosed = {
        f: None if blob is None else cipher.decrypt(data_key, subject_id, point, f, blob)
        for f, (point, _r, blob) in chosen.items()
    }
    record = Disclosure(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        recipient=recipient,
        purpose=purpose,
        fields=sorted(chosen),
        receipt_ids=sorted({r for _p, r, _b in chosen.values()}),
        actor=caller.name,
        at=clock.now(),
    )
    session.add(record)
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
    return {
        "disclosure_id": record.id,
        "recipient": recipient,
        "purpose": purpose,
        "values": disclosed,
        "receipt_ids": record.receipt_ids,
    }


def disclosures(session: Session, caller: Caller, subject_id: str) -> list[dict[str, Any]]:
    """Return the register of a person's disclosures."""
    if repository.subject(session, subject_id) is None:
        raise SubjectNotFound(f"no subject {subject_id}", subject_id=subject_id)
    audit.append(
        session,
        audit.Event(actor=caller.name, role=caller.role, action="register", subject_id=subject_id),
    )
    return [
        {
            "disclosure_id": d.id,
            "recipient": d.recipient,
            "purpose": d.purpose,
            "fields": d.fields,
            "receipt_ids": d.receipt_ids,
            "actor": d.actor,
            "at": d.at.isoformat(),
        }
        for d in repository.disclosures_of(session, subject_id)
    ]


ERASURE_PURPOSE = "essential.legal_obligation"


def erase(
    session: Session, loaded: LoadedPolicy, caller: Caller, subject_id: str
) -> dict[str, Any]:
    """Destroy a person's data key and lookup rows (crypto-shredding); keep a tombstone.

    Only the site's own back end (a service role, acting on the person's request) or a role that
    answers for legal obligations (the privacy officer) may erase someone.
    """
    role = loaded.policy.staff.roles.get(caller.role)
    if not ((role is not None and role.service) or caller.grants(ERASURE_PURPOSE)):
        exc = ErasureNotAllowed(
            f"role '{caller.role}' may not erase people: only service roles and roles granting "
            f"{ERASURE_PURPOSE} may",
            role=caller.role,
        )
        raise _refuse(session, caller, "erase", subject_id, [], None, exc)
    subj = _living(session, subject_id)
    repository.drop_index(session, subject_id)
    subj.wrapped_key = None
    subj.key_id = None
    subj.ref = None
    subj.erased_at = clock.now()
    engine = session.get_bind()
    if isinstance(engine, Engine):
        db.after_commit(session, lambda: db.purge_wal(engine))
    audit.append(
        session,
        audit.Event(actor=caller.name, role=caller.role, action="erase", subject_id=subject_id),
    )
    return {"subject_id": subject_id, "erased_at": subj.erased_at.isoformat()}

"""Legal disclosure: the one read not bound to the purposes a value was collected for.

The policy reserves the right to disclose "to comply with applicable laws and lawful governmental
requests" (``legal_disclosures``); that reservation is what lets an approved legal request reach
values collected for other purposes. Everything else about it is stricter than a read: only to an
authority the policy names, only under essential.legal_obligation, recorded in the person's
disclosure register, and audited per person with the request it answers.
"""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import RecipientKind
from avowal.policy.taxonomy import LEGAL_OBLIGATION
from avowal.vault.exceptions import UnknownRecipient
from avowal.vault.models import Disclosure
from avowal.vault.subjects import living_values

ACTION = "legal_export"


def _refuse_caller(session: Session, caller: Caller, subject_id: str, fields: list[str]) -> None:
    try:
        caller.require(LEGAL_OBLIGATION)
    except PurposeNotGranted as exc:
        raise audit.refuse(
            session,
            exc,
            actor=caller.name,
            role=caller.role,
            action=ACTION,
            subject_id=subject_id,
            fields=fields,
            purpose=LEGAL_OBLIGATION,
        ) from None


def disclose_for_legal_request(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    *,
    subject_id: str,
    fields: list[str],
    recipient: str,
    request_id: str,
    at: dt.datetime,
) -> dict[str, Any]:
    """Decrypt a person's requested fields for an approved legal request and record it.

    Returns every held value of each field (a field may be held at several collection points)
    and the fields not held. The legal service checks approval and four eyes; this function
    keeps the vault's own rules: an authority the policy reserves legal disclosures to, a caller
    granted essential.legal_obligation, a living person.
    """
    ld = loaded.policy.legal_disclosures
    rec = loaded.policy.recipients.get(recipient)
    if rec is None or rec.kind is not RecipientKind.authority or recipient not in ld.recipients:
        raise UnknownRecipient(
            f"'{recipient}' is not an authority the policy reserves legal disclosures to",
            recipient=recipient,
            declared=sorted(ld.recipients),
        )
    wanted = sorted(set(fields))
    _refuse_caller(session, caller, subject_id, wanted)
    key_id, wrapped_key, rows, *_ = living_values(session, subject_id, lock=True)
    data_key: bytes | None = None
    held: dict[str, list[dict[str, Any]]] = {}
    receipts: set[str] = set()
    for row in rows:
        # A value kept under storage "none" was never held: there is nothing to disclose.
        if row.field not in wanted or row.ciphertext is None:
            continue
        if data_key is None:
            data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
        held.setdefault(row.field, []).append(
            {
                "point": row.point,
                "value": cipher.decrypt(data_key, subject_id, row.point, row.field, row.ciphertext),
                "receipt_id": row.receipt_id,
                "collected_at": row.collected_at.isoformat()
                if isinstance(row.collected_at, dt.datetime)
                else str(row.collected_at),
            }
        )
        receipts.add(row.receipt_id)
    disclosed = sorted(held)
    disclosure_id: str | None = None
    if disclosed:
        disclosure_id = str(uuid.uuid4())
        session.add(
            Disclosure(
                id=disclosure_id,
                subject_id=subject_id,
                recipient=recipient,
                purpose=LEGAL_OBLIGATION,
                fields=disclosed,
                receipt_ids=sorted(receipts),
                actor=caller.name,
                at=at,
            )
        )
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action=ACTION,
            subject_id=subject_id,
            fields=disclosed,
            purpose=LEGAL_OBLIGATION,
            reason=f"legal request {request_id} to {recipient}",
        ),
    )
    return {
        "subject_id": subject_id,
        "values": {f: held[f] for f in disclosed},
        "not_held": [f for f in wanted if f not in held],
        "disclosure_id": disclosure_id,
    }

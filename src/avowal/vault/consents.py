"""Explicit consent to a changed notice: the one way values collected earlier gain new terms."""

from __future__ import annotations

from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.children import lock as parental
from avowal.children.exceptions import ParentalConsentPending
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import is_within
from avowal.vault import receipts, repository
from avowal.vault.collection import shown_notice
from avowal.vault.exceptions import NothingToExtend
from avowal.vault.models import PersonalValue
from avowal.vault.schemas import Consented, ConsentRequest, Notice
from avowal.vault.subjects import living_subject


def consent(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    subject_id: str,
    body: ConsentRequest,
) -> Consented:
    """Record a person's explicit consent to a point's current notice for the values held there."""
    note = shown_notice(loaded, caller, body.point, body.notice_id, "ask for consent again")
    # Locked: an erasure, a collection or a disclosure for the person waits for this one.
    living_subject(session, subject_id, lock=True)
    # A minor's consent is their parent's: a locked person, or a purpose their parent refused,
    # cannot be consented to here.
    pending, refused = parental.standing(session, subject_id)
    offered = {u for f in note.fields for u in f.purposes}
    blocked = sorted(u for u in offered if any(is_within(u, r) for r in refused))
    if pending is not None or blocked:
        raise ParentalConsentPending(
            "a minor's consent is given by their parent: "
            + (parental.why_locked(pending) if pending is not None else "")
            + (f"their parent refused {', '.join(blocked)}" if blocked else ""),
            subject_id=subject_id,
            refused=blocked,
        )
    held = repository.values_at(session, subject_id, body.point)
    if not held:
        raise NothingToExtend(
            f"no values of this person are held at '{body.point}': there is nothing to consent "
            "to; collect them under the current notice instead",
            point=body.point,
            subject_id=subject_id,
        )
    return extend(session, loaded, secrets, caller, note, held)


def extend(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    note: Notice,
    held: list[PersonalValue],
) -> Consented:
    """Put values held under earlier notices under ``note``, with a signed receipt saying so.

    Called only on the person's explicit consent to ``note`` (:func:`consent`). Continued use of
    the site, an acceptance recorded by ``continued_use`` or any implied acceptance must never
    call it: old data keeps old terms until the person says yes to the new ones. The values
    themselves are neither decrypted nor re-encrypted; only their terms change.
    """
    point = note.point
    now = {f.name: f.purposes for f in note.fields}
    # A field the current notice no longer asks for has no terms in it: it keeps its old ones.
    earlier = [v for v in held if v.notice_id != note.notice_id and v.field in now]
    if not earlier:
        raise NothingToExtend(
            f"every value of this person held at '{point}' is already under its current notice "
            "(or no longer asked for there): there is nothing to consent to",
            point=point,
            subject_id=held[0].subject_id,
            notice_id=note.notice_id,
        )
    subject_id = earlier[0].subject_id
    field_purposes = {v.field: now[v.field] for v in earlier}
    old_notices = sorted({v.notice_id for v in earlier})
    doc, signature = receipts.issue(
        session,
        loaded,
        secrets,
        subject_id,
        note,
        field_purposes,
        clock.now(),
        basis="consent_to_change",
        extends_notice_ids=old_notices,
        extends_receipt_ids=sorted({v.receipt_id for v in earlier}),
    )
    # The values are updated to point at the receipt: it must be written first.
    session.flush()
    for value in earlier:
        value.purposes = field_purposes[value.field]
        value.recipients = list(doc["recipients"])
        value.notice_id = note.notice_id
        value.receipt_id = doc["receipt_id"]
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="consent",
            subject_id=subject_id,
            fields=sorted(field_purposes),
            reason=f"point {point}, notice {note.notice_id[:16]} extends "
            + ", ".join(n[:16] for n in old_notices),
        ),
    )
    return Consented.model_validate(
        {"subject_id": subject_id, "receipt": doc, "signature": signature}
    )

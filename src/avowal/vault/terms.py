"""Old data keeps old terms: what a held value may be used for, and what needs consent first.

A value may be used for the purposes and given to the recipients of the notice it was collected
under, and for nothing else. A purpose or recipient that the collection point's current notice
includes but the value's notice did not was added later: it needs the person's explicit consent
(:mod:`avowal.vault.consents`), never merely their continued use of the site.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence

from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import is_within
from avowal.vault import notices
from avowal.vault.exceptions import ConsentRequired
from avowal.vault.repository import ValueRow
from avowal.vault.schemas import Notice, Withheld


class Term(enum.StrEnum):
    """How a held value stands for a purpose or a recipient."""

    # Its notice included it.
    allowed = "allowed"
    # Its notice did not, the point's current notice does: added later, the person must consent.
    consent_required = "consent_required"
    # Not even the point's current notice includes it.
    not_announced = "not_announced"

    @property
    def needs_consent(self) -> bool:
        """Tell whether the person's explicit consent would allow it."""
        return self is Term.consent_required


def consent_endpoint(subject_id: str) -> str:
    """Return the request that records a person's explicit consent to a changed notice."""
    return f"POST /v1/subjects/{subject_id}/consents"


def covers(held: Sequence[str], purpose: str) -> bool:
    """Tell whether a value collected for ``held`` may be used for ``purpose``."""
    return any(is_within(purpose, p) for p in held)


def current_notice(loaded: LoadedPolicy, point: str) -> Notice | None:
    """Return the current notice of a point, or None when the policy no longer declares it."""
    if point not in loaded.policy.collection_points:
        return None
    return notices.notice(loaded, point)


def for_purpose(
    loaded: LoadedPolicy, point: str, field: str, held: Sequence[str], purpose: str
) -> Term:
    """Decide whether a ``field`` value collected at ``point`` for ``held`` serves ``purpose``.

    Nothing but the person's explicit consent (:func:`avowal.vault.consents.extend`) widens
    ``held``; a purpose added to the point later is :attr:`Term.consent_required` until then.
    """
    if covers(held, purpose):
        return Term.allowed
    note = current_notice(loaded, point)
    now = [] if note is None else next((f.purposes for f in note.fields if f.name == field), [])
    return Term.consent_required if covers(now, purpose) else Term.not_announced


def for_recipient(loaded: LoadedPolicy, point: str, held: Sequence[str], recipient: str) -> Term:
    """Decide whether a value collected at ``point`` announcing ``held`` may go to ``recipient``."""
    if recipient in held:
        return Term.allowed
    note = current_notice(loaded, point)
    added = note is not None and any(r.key == recipient for r in note.recipients)
    return Term.consent_required if added else Term.not_announced


def for_disclosure(loaded: LoadedPolicy, row: ValueRow, recipient: str, purpose: str) -> Term:
    """Decide whether a held value may go to ``recipient`` for ``purpose``: the worse of both."""
    found = {
        for_recipient(loaded, row.point, row.recipients, recipient),
        for_purpose(loaded, row.point, row.field, row.purposes, purpose),
    }
    for term in (Term.not_announced, Term.consent_required):
        if term in found:
            return term
    return Term.allowed


def withheld(
    loaded: LoadedPolicy, subject_id: str, row: ValueRow, purpose: str, term: Term
) -> Withheld:
    """Say why a read withholds a value, and what would let it be read."""
    note = current_notice(loaded, row.point)
    if term is Term.consent_required and note is not None:
        return Withheld(
            field=row.field,
            point=row.point,
            reason="consent_required",
            detail=f"collected under notice {row.notice_id[:16]}, before {purpose} was added to "
            f"'{row.point}' (now notice {note.notice_id[:16]}); the person's explicit consent "
            f"for '{row.point}' is needed first: {consent_endpoint(subject_id)}",
        )
    return Withheld(
        field=row.field,
        point=row.point,
        reason="purpose_not_allowed",
        detail=f"collected under notice {row.notice_id[:16]} for {', '.join(row.purposes)} only",
    )


def consent_required(
    loaded: LoadedPolicy,
    subject_id: str,
    recipient: str,
    purpose: str,
    pending: Mapping[str, Sequence[ValueRow]],
) -> ConsentRequired:
    """Refuse a disclosure of values collected before the recipient or purpose was added."""
    fields = sorted(pending)
    rows = [row for f in fields for row in pending[f]]
    points = sorted({row.point for row in rows})
    point = points[0]
    note = current_notice(loaded, point)
    assert note is not None  # a value needing consent is at a point the policy still declares
    old = sorted({row.notice_id for row in rows if row.point == point})
    return ConsentRequired(
        f"{', '.join(fields)} {'were' if len(fields) > 1 else 'was'} collected at "
        f"{', '.join(repr(p) for p in points)} before {recipient} for {purpose} was announced "
        f"there; the person's explicit consent to the current notice is needed first",
        recipient=recipient,
        purpose=purpose,
        fields=fields,
        point=point,
        points=points,
        notice_ids=old,
        current_notice_id=note.notice_id,
        consent_endpoint=consent_endpoint(subject_id),
    )

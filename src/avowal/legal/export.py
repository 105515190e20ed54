"""The single export of an approved legal request, recorded, hashed, and owed to each person.

Only the bundle's SHA-256 is kept; the bundle itself exists for the one response that hands it
to the authority. Each person's values are read through :mod:`avowal.vault.legal_export`, which
records the disclosure in their register and audits it with the request's id.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from avowal.crypto import signing
from avowal.crypto.service import Secrets
from avowal.legal import service as legal
from avowal.legal.exceptions import LegalRequestState
from avowal.legal.models import LegalRequest, SubjectNotice
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.staff.models import StaffAccount
from avowal.vault import legal_export
from avowal.vault.exceptions import SubjectErased

BUNDLE_FORMAT = "avowal-legal-export/1"
NOTICE_KIND = "legal_disclosure"


@dataclass(frozen=True)
class LegalExport:
    """The one export of a request: the bundle, its canonical bytes and their SHA-256."""

    bundle: dict[str, Any]
    content: bytes
    sha256: str

    @property
    def filename(self) -> str:
        """Return a file name for the download."""
        return f"legal-export-{self.bundle['request']['id']}.json"


def notice_id(request_id: str, subject_id: str) -> str:
    """Return the id of the notice a request owes a person (derived, so it links back)."""
    return str(uuid.uuid5(uuid.UUID(request_id), subject_id))


def notice_due(row: LegalRequest, exported_at: dt.datetime) -> dt.datetime | None:
    """Return when the people of an exported request are told; None when never (as ordered)."""
    if row.may_notify:
        return exported_at
    if row.confidential_until is not None:
        return dt.datetime.combine(row.confidential_until, dt.time(0), dt.UTC)
    return None


def export(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    actor: StaffAccount,
    request_id: str,
    now: dt.datetime | None = None,
) -> LegalExport:
    """Produce the single export bundle of an approved request, record it and owe the notices."""
    now = clock.current(now)
    caller = legal.officer(session, loaded, actor, "legal_export", now)
    row = legal.get_row(session, request_id)
    if row.status != "approved":
        raise _not_exportable(row)
    # The policy in force now must still name the authority (it may have changed since approval).
    legal.check_recipient(loaded, row.recipient)
    # Claim the request before decrypting anything: of two officers exporting at once, one wins.
    if not legal.claim(session, row, "approved", status="exported", exported_at=now):
        raise _not_exportable(row)
    subjects: list[dict[str, Any]] = []
    due = notice_due(row, now)
    for subject_id in row.subject_ids:
        try:
            out = legal_export.disclose_for_legal_request(
                session,
                loaded,
                secrets,
                caller,
                subject_id=subject_id,
                fields=row.fields,
                recipient=row.recipient,
                request_id=row.id,
                at=now,
            )
        except SubjectErased:
            # Erased after approval: nothing is held, nothing is disclosed, no one to tell.
            subjects.append({"subject_id": subject_id, "erased": True})
            continue
        subjects.append(
            {
                "subject_id": subject_id,
                "values": out["values"],
                "not_held": out["not_held"],
                "disclosure_id": out["disclosure_id"],
            }
        )
        if due is not None:
            session.add(
                SubjectNotice(
                    id=notice_id(row.id, subject_id),
                    subject_id=subject_id,
                    kind=NOTICE_KIND,
                    message=_notice_text(loaded, row, sorted(out["values"]), now),
                    due_at=due,
                )
            )
    bundle = _bundle(session, loaded, row, actor, now, subjects)
    content = signing.canonical(bundle)
    digest = hashlib.sha256(content).hexdigest()
    row.export_sha256 = digest
    return LegalExport(bundle=bundle, content=content, sha256=digest)


def _bundle(
    session: Session,
    loaded: LoadedPolicy,
    row: LegalRequest,
    actor: StaffAccount,
    now: dt.datetime,
    subjects: list[dict[str, Any]],
) -> dict[str, Any]:
    rec = loaded.policy.recipients[row.recipient]
    return {
        "format": BUNDLE_FORMAT,
        "organisation": loaded.policy.organisation.name,
        "policy_version": loaded.version_id,
        "request": {
            "id": row.id,
            "authority": row.authority,
            "reference": row.reference,
            "legal_basis": row.legal_basis,
            "recipient": {"key": row.recipient, "name": rec.name, "country": rec.country},
            "fields": row.fields,
            "deadline": row.deadline.isoformat(),
            "requested_by": legal.email_of(session, row.requested_by),
            "requested_at": clock.aware(row.requested_at).isoformat(),
            "approved_by": legal.email_of(session, row.decided_by),
            "approved_at": clock.aware(row.decided_at).isoformat() if row.decided_at else None,
        },
        "exported_by": actor.email,
        "exported_at": now.isoformat(),
        "subjects": subjects,
    }


def _not_exportable(row: LegalRequest) -> LegalRequestState:
    if row.status == "exported":
        assert row.exported_at is not None
        return LegalRequestState(
            f"legal request {row.id} was exported already, on "
            f"{clock.aware(row.exported_at).isoformat()}: a request is exported exactly once",
            request_id=row.id,
            status=row.status,
            export_sha256=row.export_sha256,
        )
    return LegalRequestState(
        f"legal request {row.id} is {row.status}: only an approved request is exported",
        request_id=row.id,
        status=row.status,
    )


def _notice_text(
    loaded: LoadedPolicy, row: LegalRequest, disclosed: list[str], now: dt.datetime
) -> str:
    rec = loaded.policy.recipients[row.recipient]
    what = ", ".join(disclosed) if disclosed else "none of the requested data (none was held)"
    return (
        f"On {now.date().isoformat()}, {loaded.policy.organisation.name} answered a legal request "
        f"from {row.authority} (reference {row.reference}) and disclosed to {rec.name}: {what}. "
        f"Legal basis: {row.legal_basis}"
    )

"""Receipts: the signed record of what a person was shown and what their values may be used for."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any, cast

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from avowal.crypto import signing
from avowal.crypto.service import Secrets
from avowal.db import engine as db
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.vault.models import Receipt
from avowal.vault.schemas import Notice


def issue(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    subject_id: str,
    note: Notice,
    field_purposes: dict[str, list[str]],
    issued: dt.datetime,
    *,
    held_under: tuple[str, list[str]] | None = None,
    **extra: Any,
) -> tuple[dict[str, Any], str]:
    """Sign and store a receipt for values held under ``note``; return its document and signature.

    ``held_under`` (a notice id and its recipients) names the terms of values kept under an
    earlier notice of the point (a correction or a withdrawal changes no other term). ``extra``
    adds keys to the signed document (a consent's basis and the notices it extends).
    """
    notice_id, recipients = held_under or (note.notice_id, [r.key for r in note.recipients])
    doc: dict[str, Any] = {
        "receipt_id": str(uuid.uuid4()),
        "subject_id": subject_id,
        "organisation": note.organisation,
        "point": note.point,
        "notice_id": notice_id,
        "policy_version": loaded.version_id,
        "fields": sorted(field_purposes),
        "field_purposes": field_purposes,
        "purposes": sorted({u for us in field_purposes.values() for u in us}),
        "recipients": list(recipients),
        "issued_at": clock.iso(issued),
        "key_id": secrets.signing_key_id,
        **extra,
    }
    signature = signing.sign(secrets.signing_key, doc)
    # Written now, with Core: the ORM's unit of work costs more than the statement. What the
    # session holds goes first (the person's row, when it is new to the session).
    db.core(session).execute(
        _INSERT,
        {
            "id": doc["receipt_id"],
            "subject_id": subject_id,
            "point": note.point,
            "notice_id": notice_id,
            "policy_version": loaded.version_id,
            "document": doc,
            "signature": signature,
        },
    )
    return doc, signature


_INSERT = insert(cast(Table, Receipt.__table__))

"""Erasing an account at the person's request, and where to write to them about it.

The privacy center (the person), the console (staff carrying out a checked request) call
:func:`erase_account`; the API's erasure is ``DELETE /v1/subjects/{id}``
(:func:`avowal.vault.erasure.erase`). Both shred through :func:`avowal.vault.erasure.shred`.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy.orm import Session

from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.mail import content as mail_content
from avowal.mail import service as mail
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import FieldType, Storage
from avowal.settings import Settings
from avowal.vault import erasure
from avowal.vault.schemas import Erased
from avowal.vault.subjects import living_values


def address_of(
    session: Session, loaded: LoadedPolicy, secrets: Secrets, subject_id: str
) -> str | None:
    """Return the address to answer a person's own request at: their latest e-mail value kept
    whole, whatever it was collected for (answering them is the request's own purpose)."""
    key_id, wrapped_key, rows, *_ = living_values(session, subject_id)
    points = loaded.policy.collection_points
    usable = [
        r
        for r in rows
        if r.ciphertext is not None
        and r.point in points
        and (spec := points[r.point].fields.get(r.field)) is not None
        and spec.type is FieldType.email
        and spec.storage is Storage.full
    ]
    if not usable:
        return None
    row = max(usable, key=lambda r: clock.aware(r.collected_at))
    assert row.ciphertext is not None
    data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
    return cipher.decrypt(data_key, subject_id, row.point, row.field, row.ciphertext)


def erase_account(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    settings: Settings,
    subject_ids: list[str],
    *,
    actor: str,
    role: str,
    reason: str,
    now: dt.datetime | None = None,
) -> list[Erased]:
    """Crypto-shred a person's subjects at their request, then tell them it is done.

    The confirmation goes to the address they gave, under a key of its own (their key is
    destroyed), and its envelope is dropped once sent. Without mail, nothing is queued.
    """
    address = None
    for subject_id in subject_ids:
        address = address or address_of(session, loaded, secrets, subject_id)
    done = [
        erasure.shred(
            session,
            subject_id,
            actor=actor,
            role=role,
            outbox=settings.mail_outbox_path,
            reason=reason,
        )
        for subject_id in subject_ids
    ]
    if address is not None and done and mail.mail_configured(settings):
        mail.queue_to_staff(
            session,
            secrets,
            loaded,
            to=address,
            content=mail_content.ErasureDone(erased_at=done[0].erased_at[:10]),
            purpose=erasure.ON_THE_PERSONS_REQUEST,
            now=now,
        )
    return done

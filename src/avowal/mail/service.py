"""Queueing mail: sealed at once, audited, delivered later by the worker (:mod:`.worker`).

A message to a person is sealed under that person's own data key and refused for someone erased
(the living rule); a message to staff gets its own key. Every message is audited with its kind
and purpose, never its address or body.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.children import lock as parental
from avowal.crypto import cipher
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.mail import content as mail_content
from avowal.mail import keys
from avowal.mail.exceptions import MailError, NotRetryable, UnknownMessage
from avowal.mail.models import OutboxMessage
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import FieldType, Storage
from avowal.policy.taxonomy import is_within
from avowal.settings import Settings
from avowal.vault.subjects import living_subject, living_values

# The data use under which avowal writes to a person about the service itself (legal notices,
# policy changes). An address collected for it, or for a broader use, may be written to.
NOTIFICATIONS = "essential.service.notifications"
ACTOR = "avowal"
ROLE = "system"
STATUSES = ("queued", "sent", "failed", "shredded")


def _serves_notifications(purpose: str) -> bool:
    # A purpose covers the uses within it: the value serves notifications when its purpose is
    # a notification use, or a broader use that notifications lie within.
    return is_within(purpose, NOTIFICATIONS) or is_within(NOTIFICATIONS, purpose)


def service_address(
    session: Session, loaded: LoadedPolicy, secrets: Secrets, subject_id: str
) -> str | None:
    """Return the address to write to a person about the service, or None when there is none.

    The one rule for it: an e-mail value of theirs, stored whole, collected for purposes that
    cover a use within ``essential.service.notifications``; the most recently collected wins.
    None for a minor locked until a parent consents (:mod:`avowal.children.lock`). Refuses an
    unknown or erased person (the living rule). Only the chosen value is decrypted;
    the caller audits its use (:func:`queue_to_person` does).
    """
    key_id, wrapped_key, rows, *_ = living_values(session, subject_id)
    if parental.lock_of(session, subject_id) is not None:
        # A minor whose parent has not consented is written to about nothing.
        return None
    points = loaded.policy.collection_points
    candidates = []
    for row in rows:
        point = points.get(row.point)
        spec = point.fields.get(row.field) if point is not None else None
        if (
            spec is None
            or spec.type is not FieldType.email
            or spec.storage is not Storage.full
            or row.ciphertext is None
            or not any(_serves_notifications(p) for p in row.purposes)
        ):
            continue
        candidates.append(row)
    if not candidates:
        return None
    row = max(candidates, key=lambda r: clock.aware(r.collected_at))
    assert row.ciphertext is not None
    data_key = secrets.keyring.unwrap(key_id, wrapped_key, subject_id)
    return cipher.decrypt(data_key, subject_id, row.point, row.field, row.ciphertext)


def _check_purpose(loaded: LoadedPolicy, purpose: str) -> None:
    if purpose not in loaded.taxonomy.data_uses:
        raise MailError(f"'{purpose}' is not a data use of the taxonomy", purpose=purpose)


def _envelope(
    loaded: LoadedPolicy,
    to: str,
    content: mail_content.Content,
    headers: dict[str, str] | None = None,
) -> keys.Envelope:
    rendered = mail_content.render(
        content, loaded.policy.policy.language, loaded.policy.organisation.name
    )
    return keys.Envelope(
        to=to,
        subject=rendered.subject,
        text=rendered.text,
        html=rendered.html,
        headers=dict(headers or {}),
    )


def _row(
    message_id: str, subject_id: str | None, kind: str, purpose: str | None, now: dt.datetime
) -> OutboxMessage:
    return OutboxMessage(
        id=message_id,
        subject_id=subject_id,
        kind=kind,
        purpose=purpose,
        status="queued",
        attempts=0,
        created_at=now,
        next_attempt_at=now,
    )


def _audit(session: Session, row: OutboxMessage) -> None:
    audit.append(
        session,
        audit.Event(
            actor=ACTOR,
            role=ROLE,
            action="mail",
            subject_id=row.subject_id,
            purpose=row.purpose,
            reason=f"{row.kind} queued as message {row.id}",
        ),
    )


def queue_to_person(
    session: Session,
    secrets: Secrets,
    loaded: LoadedPolicy,
    subject_id: str,
    *,
    purpose: str,
    to: str,
    content: mail_content.Content,
    message_id: str | None = None,
    headers: dict[str, str] | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Queue a message to a living person, sealed under their own data key; return its id.

    The kind is the content's (``content.KIND``). The person's row is locked, so an erasure
    either shreds this message or refuses it (410), never misses it. Audited, without the
    address or the body. ``message_id`` makes queueing idempotent for derived ids; ``headers``
    are sealed with the envelope (e.g. List-Unsubscribe).
    """
    _check_purpose(loaded, purpose)
    subject = living_subject(session, subject_id, lock=True)
    assert subject.key_id is not None and subject.wrapped_key is not None
    row = _row(
        message_id or str(uuid.uuid4()), subject_id, content.KIND, purpose, clock.current(now)
    )
    data_key = secrets.keyring.unwrap(subject.key_id, subject.wrapped_key, subject_id)
    envelope = _envelope(loaded, to, content, headers)
    row.envelope = keys.seal(data_key, subject_id, row.id, envelope)
    session.add(row)
    _audit(session, row)
    return row.id


def queue_to_staff(
    session: Session,
    secrets: Secrets,
    loaded: LoadedPolicy,
    *,
    to: str,
    content: mail_content.Content,
    purpose: str | None = None,
    now: dt.datetime | None = None,
) -> str:
    """Queue a message to a staff member under a key of its own (wrapped by the master keyring)."""
    if purpose is not None:
        _check_purpose(loaded, purpose)
    row = _row(str(uuid.uuid4()), None, content.KIND, purpose, clock.current(now))
    data_key, row.key_id, row.wrapped_key = keys.own_key(secrets.keyring, row.id)
    row.envelope = keys.seal(data_key, keys.STAFF, row.id, _envelope(loaded, to, content))
    session.add(row)
    _audit(session, row)
    return row.id


def mail_configured(settings: Settings) -> bool:
    """Tell whether mail goes anywhere (SMTP or `.eml` files)."""
    return settings.effective_mail_transport != "none"


def queue_enrolment(
    session: Session,
    settings: Settings,
    secrets: Secrets,
    loaded: LoadedPolicy,
    *,
    email: str,
    role: str,
    link: str,
    now: dt.datetime | None = None,
) -> str | None:
    """Queue a staff member's enrolment link when mail is configured; return the message id."""
    if not mail_configured(settings):
        return None
    enrolment = mail_content.StaffEnrolment(link=link, hours=settings.enrolment_hours, role=role)
    return queue_to_staff(session, secrets, loaded, to=email, content=enrolment, now=now)


def get_message(session: Session, message_id: str, *, lock: bool = False) -> OutboxMessage:
    """Return one outbox message, or refuse an unknown id."""
    stmt = select(OutboxMessage).where(OutboxMessage.id == message_id)
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    row = session.scalar(stmt)
    if row is None:
        raise UnknownMessage(f"no message {message_id} in the outbox", message_id=message_id)
    return row


def retry(session: Session, message_id: str, now: dt.datetime | None = None) -> OutboxMessage:
    """Queue a finally failed message again, with a fresh round of attempts."""
    row = get_message(session, message_id, lock=True)
    if row.status != "failed" or row.envelope is None:
        raise NotRetryable(
            f"message {message_id} is {row.status}; only a failed message can be retried",
            message_id=message_id,
            status=row.status,
        )
    row.status = "queued"
    row.attempts = 0
    row.failed_at = None
    row.next_attempt_at = clock.current(now)
    return row


def eml_path(outbox: Path, row: OutboxMessage) -> Path:
    """Return where the files transport writes a message."""
    return outbox / (row.subject_id or keys.STAFF) / f"{row.id}.eml"


@dataclass(frozen=True)
class OutboxEntry:
    """One line of the outbox: never an address or a body."""

    id: str
    kind: str
    purpose: str | None
    status: str
    attempts: int
    created_at: dt.datetime
    sent_at: dt.datetime | None
    failed_at: dt.datetime | None
    next_attempt_at: dt.datetime | None
    last_error: str | None
    eml: Path | None


def _aware(value: dt.datetime | None) -> dt.datetime | None:
    return clock.aware(value) if value is not None else None


def list_outbox(
    session: Session, settings: Settings, status: str | None = None
) -> list[OutboxEntry]:
    """Return the outbox, newest first, optionally only the messages of one status."""
    if status is not None and status not in STATUSES:
        raise MailError(
            f"'{status}' is not a status of the outbox ({', '.join(STATUSES)})", status=status
        )
    stmt = select(OutboxMessage).order_by(OutboxMessage.created_at.desc(), OutboxMessage.id)
    if status is not None:
        stmt = stmt.where(OutboxMessage.status == status)
    out = []
    for row in session.scalars(stmt):
        path = eml_path(settings.mail_outbox_path, row)
        out.append(
            OutboxEntry(
                id=row.id,
                kind=row.kind,
                purpose=row.purpose,
                status=row.status,
                attempts=row.attempts,
                created_at=clock.aware(row.created_at),
                sent_at=_aware(row.sent_at),
                failed_at=_aware(row.failed_at),
                next_attempt_at=_aware(row.next_attempt_at) if row.status == "queued" else None,
                last_error=row.last_error,
                eml=path if path.exists() else None,
            )
        )
    return out


@dataclass(frozen=True)
class Summary:
    """The outbox in figures: messages by status, and every finally failed one."""

    by_status: dict[str, int]
    failed: list[OutboxEntry]


def summary(session: Session, settings: Settings) -> Summary:
    """Count the outbox by status and list the failed messages (for the review)."""
    rows = session.execute(
        select(OutboxMessage.status, func.count()).group_by(OutboxMessage.status)
    )
    counts = dict.fromkeys(STATUSES, 0)
    counts.update({status: int(n) for status, n in rows})
    return Summary(by_status=counts, failed=list_outbox(session, settings, "failed"))

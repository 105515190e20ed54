"""Deliver the outbox: one pass, or a loop (in-process for the embedded default, `avowal worker`).

A pass turns the legal notices now due into mail to the people concerned, then delivers the
messages due. Each message is claimed first, in a short transaction (``FOR UPDATE SKIP LOCKED``
on PostgreSQL, the write lock on SQLite) that moves its next attempt a lease ahead, so several
processes never send one message twice and no lock is held while a server is talked to. A sent
message keeps only kind, purpose, times and status; a failure is retried after
``mail_retry_seconds * 2**(attempts-1)`` and, after ``mail_max_attempts``, the message is failed,
its ciphertext kept for `avowal mail retry`. With mail not configured nothing is sent and nothing
is lost: messages stay queued.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from avowal.children import worker as parental
from avowal.crypto.service import Secrets
from avowal.db.engine import transaction
from avowal.legal import service as legal
from avowal.legal.models import SubjectNotice
from avowal.lib import clock
from avowal.lifecycle import notices as change_notices
from avowal.lifecycle.holder import PolicySource, resolve
from avowal.mail import content, erasure, keys, service, transport
from avowal.mail.models import OutboxMessage
from avowal.mail.transport import Transport
from avowal.ops import jobs
from avowal.policy.loader import LoadedPolicy
from avowal.rights import cases
from avowal.settings import Settings
from avowal.vault import repository, retention
from avowal.vault.exceptions import SubjectErased, SubjectNotFound
from avowal.vault.subjects import is_living, unknown_and_erased

log = logging.getLogger(__name__)

BATCH = 100


@dataclass
class PassReport:
    """What one pass did (message and notice ids, error classes; never an address)."""

    notices: list[str] = field(default_factory=list)
    no_address: list[str] = field(default_factory=list)
    sent: list[str] = field(default_factory=list)
    retrying: list[tuple[str, str]] = field(default_factory=list)
    failed: list[tuple[str, str]] = field(default_factory=list)
    shredded: list[str] = field(default_factory=list)
    folders_removed: int = 0
    parental_confirmed: int = 0
    parental_expired: int = 0
    retention_destroyed: int = 0
    retention_purposes_removed: int = 0
    configured: bool = True


def lease(settings: Settings) -> dt.timedelta:
    """Return how long a claimed message is left to its sender before others may take it."""
    return dt.timedelta(seconds=max(60.0, 4 * settings.smtp_timeout_seconds))


def backoff(settings: Settings, attempts: int) -> dt.timedelta:
    """Return the wait before the next attempt after ``attempts`` failed ones."""
    return dt.timedelta(seconds=settings.mail_retry_seconds * 2 ** (attempts - 1))


def notice_message_id(notice_id: str) -> str:
    """Return the id of the mail carrying a notice (derived: queueing it twice fails)."""
    return str(uuid.uuid5(uuid.UUID(notice_id), "mail"))


def queue_due_notices(
    factory: sessionmaker[Session],
    secrets: Secrets,
    loaded: LoadedPolicy,
    now: dt.datetime,
    report: PassReport,
) -> None:
    """Turn each legal notice now due into mail to its person, one transaction per notice.

    A person with no service address keeps the notice due (the review lists it); an erased one
    cannot be told.
    """
    with factory() as session:
        due = [(n.id, n.subject_id) for n in legal.due_notices(session, now)]
    for notice_id, subject_id in due:
        try:
            with transaction(factory) as session:
                notice = session.scalar(
                    select(SubjectNotice)
                    .where(SubjectNotice.id == notice_id, SubjectNotice.sent_at.is_(None))
                    .with_for_update(skip_locked=True)
                    .execution_options(populate_existing=True)
                )
                if notice is None:
                    continue
                address = service.service_address(session, loaded, secrets, subject_id)
                if address is None:
                    report.no_address.append(notice_id)
                    continue
                service.queue_to_person(
                    session,
                    secrets,
                    loaded,
                    subject_id,
                    purpose=service.NOTIFICATIONS,
                    to=address,
                    content=content.LegalNotice(message=notice.message),
                    message_id=notice_message_id(notice_id),
                    now=now,
                )
                notice.sent_at = now
        except (SubjectErased, SubjectNotFound):
            continue
        except Exception as exc:
            log.error("legal notice %s not queued: %s", notice_id, type(exc).__name__)
            continue
        report.notices.append(notice_id)


def _claim(factory: sessionmaker[Session], settings: Settings, now: dt.datetime) -> list[str]:
    with transaction(factory) as session:
        rows = session.scalars(
            select(OutboxMessage)
            .where(OutboxMessage.status == "queued", OutboxMessage.next_attempt_at <= now)
            .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id)
            .limit(BATCH)
            .with_for_update(skip_locked=True)
        ).all()
        for row in rows:
            row.next_attempt_at = now + lease(settings)
        return [row.id for row in rows]


class _Gone(Exception):
    """The message's person is erased: their mail is shredded, not sent."""


def _open(
    factory: sessionmaker[Session], secrets: Secrets, message_id: str
) -> tuple[str, keys.Envelope, dt.datetime] | None:
    """Return a claimed message's owner, envelope and creation time (None if no longer queued)."""
    with factory() as session:
        row = session.get(OutboxMessage, message_id)
        if row is None or row.status != "queued" or row.envelope is None:
            return None
        if row.subject_id is None:
            owner, data_key = keys.STAFF, keys.unwrap_own(secrets.keyring, row)
        else:
            owner = row.subject_id
            subject = repository.subject(session, owner)
            if subject is None or not is_living(
                repository.KeyRow(subject.erased_at, subject.key_id, subject.wrapped_key)
            ):
                raise _Gone
            assert subject.key_id is not None and subject.wrapped_key is not None
            data_key = secrets.keyring.unwrap(subject.key_id, subject.wrapped_key, owner)
        envelope = keys.unseal(data_key, owner, row.id, row.envelope)
        return owner, envelope, clock.aware(row.created_at)


def _settle(
    factory: sessionmaker[Session],
    settings: Settings,
    message_id: str,
    error: str | None,
    written: Path | None,
    report: PassReport,
) -> None:
    now = clock.now()
    with transaction(factory) as session:
        row = service.get_message(session, message_id, lock=True)
        if row.status != "queued":
            # Shredded by an erasure while it was being sent: no copy may stay behind.
            if written is not None:
                written.unlink(missing_ok=True)
            report.shredded.append(message_id)
            return
        row.attempts += 1
        if error is None:
            row.status, row.sent_at = "sent", now
            row.envelope = row.wrapped_key = row.key_id = None
            report.sent.append(message_id)
            return
        row.last_error = error
        if row.attempts >= settings.mail_max_attempts:
            row.status, row.failed_at = "failed", now
            report.failed.append((message_id, error))
            log.error("mail %s failed for good after %d attempts: %s", row.id, row.attempts, error)
            return
        row.next_attempt_at = now + backoff(settings, row.attempts)
        report.retrying.append((message_id, error))


def _shred_one(factory: sessionmaker[Session], message_id: str, report: PassReport) -> None:
    with transaction(factory) as session:
        row = service.get_message(session, message_id, lock=True)
        row.status, row.envelope = "shredded", None
        row.wrapped_key = row.key_id = None
    report.shredded.append(message_id)


def deliver(
    factory: sessionmaker[Session],
    settings: Settings,
    secrets: Secrets,
    sender: Transport,
    now: dt.datetime,
    report: PassReport,
) -> None:
    """Send the messages due: claim them, send each, record each outcome."""
    for message_id in _claim(factory, settings, now):
        written: Path | None = None
        error: str | None = None
        try:
            opened = _open(factory, secrets, message_id)
            if opened is None:
                continue
            owner, envelope, created = opened
            msg = transport.build(settings, message_id, envelope, created)
            written = sender.send(msg, owner, message_id)
        except _Gone:
            _shred_one(factory, message_id, report)
            continue
        except Exception as exc:
            error = transport.describe(exc)
        _settle(factory, settings, message_id, error, written, report)


def sweep_erased_folders(factory: sessionmaker[Session], outbox: Path, report: PassReport) -> None:
    """Remove the `.eml` folders of people no longer living (an erasure that could not)."""
    if not outbox.is_dir():
        return
    names = [p.name for p in outbox.iterdir() if p.is_dir() and p.name != keys.STAFF]
    if not names:
        return
    with factory() as session:
        unknown, erased = unknown_and_erased(session, names)
    for name in [*unknown, *erased]:
        erasure.remove_folder(outbox / name)
        report.folders_removed += 1


def run_pass(
    factory: sessionmaker[Session],
    settings: Settings,
    secrets: Secrets,
    loaded: LoadedPolicy,
    now: dt.datetime | None = None,
) -> PassReport:
    """Apply the retention rules, erase the children whose parent did not answer in time, queue
    the legal notices and the parental confirmations due, deliver the mail due, and tidy erased
    people's folders."""
    now = clock.current(now)
    report = PassReport()
    # Values past their retention period go whether or not mail is configured (at most once
    # every retention.INTERVAL: the periods are days).
    if retention.due_to_run(factory, now):
        kept = retention.run(factory, loaded, now)
        report.retention_destroyed = kept.values_destroyed
        report.retention_purposes_removed = kept.purposes_removed
    # Cases closed long enough ago lose their contact details (one indexed query when none).
    cases.archive_pass(factory, loaded, now)
    # A child whose parent did not answer in time is erased even if mail is off now.
    report.parental_expired = parental.expire_pass(factory, settings, loaded, now)
    sweep_erased_folders(factory, settings.mail_outbox_path, report)
    sender = transport.for_settings(settings)
    if sender is None:
        report.configured = False
        return report
    queue_due_notices(factory, secrets, loaded, now, report)
    change_notices.notify_pass(factory, settings, secrets, now)
    report.parental_confirmed = parental.confirm_pass(factory, settings, secrets, loaded, now)
    deliver(factory, settings, secrets, sender, now, report)
    return report


async def run_forever(
    factory: sessionmaker[Session],
    settings: Settings,
    secrets: Secrets,
    loaded: PolicySource,
    *,
    first_delay: float | None = None,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """Run a pass every ``mail_interval_seconds`` in a thread, until cancelled, keeping the
    job's heartbeat (:mod:`avowal.ops.jobs`).

    ``loaded`` may be the policy holder's ``current``, so each pass writes in the language and
    name of the version in effect. A failing pass is logged and retried at the next tick.
    """
    await jobs.run_forever(
        jobs.MAIL,
        factory,
        settings,
        lambda: run_pass(factory, settings, secrets, resolve(loaded)),
        first_delay=first_delay,
        on_pass=on_pass,
    )

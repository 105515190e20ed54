"""Change notices: tell people of an announced version by e-mail before it takes effect.

For every upcoming version whose policy promises notice by e-mail, each living person with a
service address (an e-mail collected for ``essential.service.notifications``) gets one
``change_notice`` message, sealed under their own key, and a :class:`ChangeNotification` records
it. The notification is inserted first: of two processes telling the same person, the unique
constraint lets one win and the other skips, so no one is told twice. With mail not configured
nothing is queued (the ledger reports the promise as needing configuration).

A person told of a version before it took effect can accept it by continued use
(:mod:`avowal.lifecycle.acceptance`); the banner (``GET /v1/policy/changes``) shows the same
announcement to visitors.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import and_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, sessionmaker

from avowal.crypto.service import Secrets
from avowal.db.engine import transaction
from avowal.lib import clock
from avowal.lifecycle import repository
from avowal.lifecycle import service as lifecycle
from avowal.lifecycle.acceptance_schemas import PolicyChanges, UpcomingChange
from avowal.lifecycle.models import ChangeNotification, PolicyVersion
from avowal.mail import content as mail_content
from avowal.mail import service as mail
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings
from avowal.vault.exceptions import SubjectErased, SubjectNotFound
from avowal.vault.models import Subject

log = logging.getLogger("avowal.lifecycle")

EMAIL = "email"
BANNER = "banner"
BATCH = 100
# Message ids are derived from the version and the person: queueing one twice fails.
_MESSAGES = uuid.UUID("6f1d3c52-9a41-4d8e-b7a0-0c6e1f2a9b31")

LoadedByVersion = Callable[[PolicyVersion], LoadedPolicy]


def message_id(version_id: str, subject_id: str) -> str:
    """Return the id of the change notice of a version to a person."""
    return str(uuid.uuid5(_MESSAGES, f"{version_id}:{subject_id}"))


def change_lines(version: PolicyVersion) -> list[str]:
    """Return each stored change of a version in one line a person can read."""
    return [str(c["summary"]) for c in version.changes if isinstance(c.get("summary"), str)]


def diff_url(settings: Settings, version: PolicyVersion) -> str:
    """Return the public page comparing a version with the one before it."""
    return mail_content.diff_link(
        settings.public_url, version.previous_id or version.version_id, version.version_id
    )


@dataclass
class NoticeReport:
    """What a round of change notices did: message ids, never an address."""

    configured: bool = True
    versions: list[str] = field(default_factory=list)
    queued: list[str] = field(default_factory=list)
    # People with no service address, or told meanwhile by another process.
    skipped: int = 0


def _candidates(session: Session, version_id: str, after: str, limit: int) -> list[str]:
    """Return living people not yet told of a version by e-mail, by id after ``after``."""
    told = and_(
        ChangeNotification.subject_id == Subject.id,
        ChangeNotification.version_id == version_id,
        ChangeNotification.via == EMAIL,
    )
    stmt = (
        select(Subject.id)
        .outerjoin(ChangeNotification, told)
        .where(
            ChangeNotification.id.is_(None),
            Subject.erased_at.is_(None),
            Subject.wrapped_key.is_not(None),
            Subject.id > after,
        )
        .order_by(Subject.id)
        .limit(limit)
    )
    return list(session.scalars(stmt))


def _purpose(loaded: LoadedPolicy) -> str:
    """Return the data use a change notice by e-mail serves."""
    email = f"{mail.NOTIFICATIONS}.email"
    return email if email in loaded.taxonomy.data_uses else mail.NOTIFICATIONS


def _tell(
    session: Session,
    secrets: Secrets,
    settings: Settings,
    loaded: LoadedPolicy,
    version: PolicyVersion,
    subject_id: str,
    now: dt.datetime,
) -> str | None:
    """Queue one person's change notice and record it; None when someone else did, or no address."""
    try:
        with session.begin_nested():
            address = mail.service_address(session, loaded, secrets, subject_id)
            if address is None:
                return None
            msg_id = message_id(version.version_id, subject_id)
            note = ChangeNotification(
                subject_id=subject_id,
                version_id=version.version_id,
                via=EMAIL,
                message_id=msg_id,
                notified_at=now,
            )
            session.add(note)
            session.flush()  # the unique constraint decides between two processes here
            notice = mail_content.ChangeNotice(
                effective=version.effective,
                diff_url=diff_url(settings, version),
                material=version.material,
                summary=version.summary,
                changes=change_lines(version),
            )
            mail.queue_to_person(
                session,
                secrets,
                loaded,
                subject_id,
                purpose=_purpose(loaded),
                to=address,
                content=notice,
                message_id=msg_id,
                now=now,
            )
            return msg_id
    except IntegrityError:
        return None  # told already by another process
    except (SubjectErased, SubjectNotFound):
        return None  # erased since the candidates were read


def notify_upcoming(
    session: Session,
    loaded_by_version: LoadedByVersion,
    secrets: Secrets,
    settings: Settings,
    now: dt.datetime | None = None,
    *,
    batch: int = BATCH,
) -> NoticeReport:
    """Queue up to ``batch`` change notices for versions announced to take effect later."""
    now = clock.current(now)
    report = NoticeReport(configured=mail.mail_configured(settings))
    if not report.configured:
        return report
    current = repository.in_effect(session, now)
    if current is None:
        return report
    loaded = loaded_by_version(current)
    for version in repository.upcoming(session, now):
        rule = loaded_by_version(version).policy.changes
        if EMAIL not in rule.notify_by and EMAIL not in loaded.policy.changes.notify_by:
            continue
        report.versions.append(version.version_id)
        after = ""
        while len(report.queued) < batch:
            people = _candidates(session, version.version_id, after, batch)
            if not people:
                break
            for subject_id in people:
                sent = _tell(session, secrets, settings, loaded, version, subject_id, now)
                if sent is None:
                    report.skipped += 1
                else:
                    report.queued.append(sent)
                if len(report.queued) >= batch:
                    break
            after = people[-1]
    return report


def notify_pass(
    factory: sessionmaker[Session],
    settings: Settings,
    secrets: Secrets,
    now: dt.datetime | None = None,
    *,
    batch: int = BATCH,
) -> NoticeReport:
    """Run one round of change notices in its own transaction (the mail worker calls this).

    A failure is logged and left to the next round: the worker still delivers the mail due.
    """
    try:
        with transaction(factory) as session:
            report = notify_upcoming(
                session, lifecycle.loaded_version, secrets, settings, now, batch=batch
            )
    except Exception:
        log.exception("change notices not queued this round")
        return NoticeReport(configured=mail.mail_configured(settings))
    if report.queued:
        log.info("queued %d change notice(s)", len(report.queued))
    return report


def upcoming_changes(session: Session, settings: Settings, now: dt.datetime) -> PolicyChanges:
    """Return the version in effect and the versions announced after it, as the banner shows."""
    current = repository.in_effect(session, now)
    base = settings.public_url.rstrip("/")
    return PolicyChanges(
        in_effect=current.version_id if current is not None else None,
        versions_url=f"{base}/privacy/versions",
        upcoming=[
            UpcomingChange(
                version_id=v.version_id,
                previous_id=v.previous_id,
                effective=v.effective,
                effective_at=clock.aware(v.effective_at),
                summary=v.summary,
                material=v.material,
                changes=change_lines(v),
                diff_url=diff_url(settings, v),
            )
            for v in repository.upcoming(session, now)
        ],
    )

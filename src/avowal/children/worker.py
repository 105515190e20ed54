"""The worker's part: send the confirmations due, erase the children whose parent did not
answer in time. Run by the mail worker's pass (:func:`avowal.mail.worker.run_pass`)."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from avowal.children.lock import CONFIRMING, PENDING
from avowal.children.models import ParentalConsent
from avowal.children.service import confirm, expire
from avowal.crypto.service import Secrets
from avowal.db.engine import transaction
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings


def due(session: Session, now: dt.datetime) -> tuple[list[str], list[str]]:
    """Return the requests whose confirmation is due, and those whose waiting period is over."""
    confirming = list(
        session.scalars(
            select(ParentalConsent.id).where(
                ParentalConsent.status == CONFIRMING, ParentalConsent.confirm_at <= now
            )
        )
    )
    expired = list(
        session.scalars(
            select(ParentalConsent.id).where(
                ParentalConsent.status == PENDING, ParentalConsent.expires_at <= now
            )
        )
    )
    return confirming, expired


def confirm_pass(
    factory: sessionmaker[Session],
    settings: Settings,
    secrets: Secrets,
    loaded: LoadedPolicy,
    now: dt.datetime,
) -> int:
    """Send the confirmations due (one transaction each); return how many. Needs mail."""
    with factory() as session:
        confirming, _ = due(session, now)
    sent = 0
    for request_id in confirming:
        with transaction(factory) as session:
            row = session.get(ParentalConsent, request_id, with_for_update=True)
            if row is None or row.status != CONFIRMING:
                continue
            confirm(session, loaded, secrets, settings.public_url, row, now)
            sent += 1
    return sent


def expire_pass(
    factory: sessionmaker[Session], settings: Settings, loaded: LoadedPolicy, now: dt.datetime
) -> int:
    """Erase the children whose parent did not answer in time (one transaction each), whether
    or not mail is configured now; return how many."""
    with factory() as session:
        _, expired = due(session, now)
    erased = 0
    for request_id in expired:
        with transaction(factory) as session:
            row = session.get(ParentalConsent, request_id, with_for_update=True)
            if row is None or row.status != PENDING:
                continue
            expire(session, loaded, row, now, settings.mail_outbox_path)
            erased += 1
    return erased

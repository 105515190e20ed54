"""Single-use links and short sessions of the privacy center: random tokens, kept as digests.

A token carries 256 random bits and only its SHA-256 is stored (like a service token), one row
per subject it opens. A link is used once (``used_at`` set under a row lock, so of two uses at
once one wins) and only before it expires; a session lasts :data:`SESSION_MINUTES`. Erasing a
person deletes their rows (:func:`forget`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets as random
from collections.abc import Sequence
from typing import NamedTuple

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from avowal.db import engine as db
from avowal.lib import clock
from avowal.rights.exceptions import LinkExpired, LinkInvalid, LinkUsed
from avowal.rights.models import PersonGrant

LINK, SESSION, IDENTITY = "link", "session", "identity"
# A mailed sign-in link: short, as its use is to be clicked now.
LINK_MINUTES = 15
# A link the site issues for its signed-in user is followed at once.
SITE_LINK_MINUTES = 5
SESSION_MINUTES = 30
IDENTITY_DAYS = 7


def digest(token: str) -> str:
    """Return the digest a token is kept as."""
    return hashlib.sha256(token.encode()).hexdigest()


def issue(
    session: Session,
    kind: str,
    subject_ids: Sequence[str],
    ttl: dt.timedelta,
    *,
    case_id: str | None = None,
    now: dt.datetime | None = None,
) -> tuple[str, dt.datetime]:
    """Create a token of ``kind`` opening these subjects (or a case); return it and its expiry."""
    token = random.token_urlsafe(32)
    at = clock.current(now)
    expires = at + ttl
    kept = digest(token)
    owners: list[str | None] = list(subject_ids) or [None]
    for subject_id in owners:
        session.add(
            PersonGrant(
                kind=kind,
                digest=kept,
                subject_id=subject_id,
                case_id=case_id,
                created_at=at,
                expires_at=expires,
            )
        )
    return token, expires


class Opened(NamedTuple):
    """What a verified token opens."""

    subject_ids: list[str]
    case_id: str | None
    expires_at: dt.datetime


def _rows(session: Session, kind: str, token: str, *, lock: bool) -> list[PersonGrant]:
    stmt = select(PersonGrant).where(PersonGrant.kind == kind, PersonGrant.digest == digest(token))
    if lock:
        stmt = stmt.with_for_update().execution_options(populate_existing=True)
    return list(session.scalars(stmt.order_by(PersonGrant.id)))


def _opened(rows: list[PersonGrant]) -> Opened:
    return Opened(
        [r.subject_id for r in rows if r.subject_id is not None],
        rows[0].case_id,
        clock.aware(rows[0].expires_at),
    )


def use(session: Session, kind: str, token: str, now: dt.datetime | None = None) -> Opened:
    """Use a single-use token: 404 if never issued, 410 if used already or expired."""
    if len(token) > 100:
        raise LinkInvalid("this link is not valid")
    rows = _rows(session, kind, token, lock=True)
    if not rows:
        raise LinkInvalid("this link is not valid")
    at = clock.current(now)
    if rows[0].used_at is not None:
        raise LinkUsed("this link has been used already; ask for a new one")
    if clock.aware(rows[0].expires_at) <= at:
        raise LinkExpired("this link has expired; ask for a new one")
    for row in rows:
        row.used_at = at
    return _opened(rows)


def check(session: Session, kind: str, token: str, now: dt.datetime | None = None) -> Opened:
    """Verify a token without using it (to show the page that asks to confirm)."""
    if len(token) > 100:
        raise LinkInvalid("this link is not valid")
    rows = _rows(session, kind, token, lock=False)
    if not rows:
        raise LinkInvalid("this link is not valid")
    if rows[0].used_at is not None:
        raise LinkUsed("this link has been used already; ask for a new one")
    if clock.aware(rows[0].expires_at) <= clock.current(now):
        raise LinkExpired("this link has expired; ask for a new one")
    return _opened(rows)


def pending_links(
    session: Session, subject_ids: Sequence[str], now: dt.datetime | None = None
) -> int:
    """Count the sign-in links of these people still usable (sent, neither used nor expired)."""
    if not subject_ids:
        return 0
    rows = session.scalars(
        select(PersonGrant.digest).where(
            PersonGrant.kind == LINK,
            PersonGrant.subject_id.in_(list(subject_ids)),
            PersonGrant.used_at.is_(None),
            PersonGrant.expires_at > clock.current(now),
        )
    )
    return len(set(rows))


def start_session(
    session: Session, subject_ids: Sequence[str], now: dt.datetime | None = None
) -> tuple[str, dt.datetime]:
    """Open a privacy-center session for these subjects; return its token and end."""
    return issue(session, SESSION, subject_ids, dt.timedelta(minutes=SESSION_MINUTES), now=now)


def session_of(session: Session, token: str | None, now: dt.datetime | None = None) -> list[str]:
    """Return the subjects a session cookie opens, or [] when it is unknown or over."""
    if not token or len(token) > 100:
        return []
    rows = _rows(session, SESSION, token, lock=False)
    if not rows or clock.aware(rows[0].expires_at) <= clock.current(now):
        return []
    return [r.subject_id for r in rows if r.subject_id is not None]


def end_session(session: Session, token: str) -> None:
    """End a session (signing out)."""
    session.execute(
        delete(PersonGrant).where(
            PersonGrant.kind == SESSION, PersonGrant.digest == digest(token[:100])
        )
    )


def forget(session: Session, subject_id: str) -> None:
    """Delete an erased person's links and sessions."""
    db.core(session).execute(delete(PersonGrant).where(PersonGrant.subject_id == subject_id))


def purge(session: Session, now: dt.datetime | None = None) -> int:
    """Delete links and sessions a day past their end; return how many rows went."""
    cutoff = clock.current(now) - dt.timedelta(days=1)
    result = session.execute(delete(PersonGrant).where(PersonGrant.expires_at < cutoff))
    return int(getattr(result, "rowcount", 0) or 0)

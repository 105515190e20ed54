"""Staff sessions: 128-bit random ids kept only as hashes, idle and absolute timeouts, CSRF."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from sqlalchemy.orm import Session

from avowal.lib.clock import aware
from avowal.settings import Settings
from avowal.staff import repository
from avowal.staff.models import StaffSession

COOKIE = "avowal_session"
CSRF_COOKIE = "avowal_csrf"  # double-submit token of the forms shown before sign-in
COOKIE_PATH = "/console"
TOUCH_EVERY = dt.timedelta(minutes=1)  # last_seen_at is written at most this often


@dataclass(frozen=True)
class Started:
    """A new session: the cookie value (shown to the browser only) and its stored row."""

    token: str
    row: StaffSession


def digest(token: str) -> str:
    """Return the stored form of a session id."""
    # 128 random bits: a fast hash is enough to make a stolen table useless.
    return hashlib.sha256(token.encode()).hexdigest()


def new_csrf_token() -> str:
    """Return a fresh random CSRF token."""
    return secrets.token_urlsafe(32)


def same_token(expected: str | None, given: str | None) -> bool:
    """Compare a CSRF token in constant time; a missing token never matches."""
    if not expected or not given:
        return False
    return hmac.compare_digest(expected.encode(), given.encode())


def start(session: Session, account_id: int, now: dt.datetime) -> Started:
    """Open a session for an account; return its cookie value (never stored) and row."""
    token = secrets.token_urlsafe(16)
    row = StaffSession(
        id_hash=digest(token),
        account_id=account_id,
        created_at=now,
        last_seen_at=now,
        csrf_token=new_csrf_token(),
    )
    session.add(row)
    session.flush()
    return Started(token, row)


def end(row: StaffSession, now: dt.datetime) -> None:
    """End one session."""
    if row.ended_at is None:
        row.ended_at = now


def end_token(session: Session, token: str | None, now: dt.datetime) -> None:
    """End the session a cookie value names, if any."""
    if token:
        row = repository.session_by_hash(session, digest(token))
        if row is not None:
            end(row, now)


def end_all(session: Session, account_id: int, now: dt.datetime) -> int:
    """End every open session of an account at once; return how many were open."""
    return repository.end_sessions(session, account_id, now)


def expiry_reason(row: StaffSession, settings: Settings, now: dt.datetime) -> str | None:
    """Return why a session is over (ended, idle, absolute timeout), or None if it is live."""
    if row.ended_at is not None:
        return "ended"
    if now - aware(row.last_seen_at) > dt.timedelta(minutes=settings.session_idle_minutes):
        return "idle"
    if now - aware(row.created_at) > dt.timedelta(hours=settings.session_absolute_hours):
        return "absolute"
    return None


def resolve(
    session: Session, settings: Settings, token: str | None, now: dt.datetime
) -> StaffSession | None:
    """Return the live session a cookie value names, ending it if it timed out; else None."""
    if not token or len(token) > 64:
        return None
    row = repository.session_by_hash(session, digest(token))
    if row is None:
        return None
    if expiry_reason(row, settings, now) is not None:
        end(row, now)
        return None
    if now - aware(row.last_seen_at) >= TOUCH_EVERY:
        row.last_seen_at = now
    return row


def cookie_secure(settings: Settings, scheme: str) -> bool:
    """Tell whether cookies get the Secure flag: always in production, never in tests, and in
    development when the request came over HTTPS."""
    if settings.env == "production":
        return True
    if settings.env == "test":
        return False
    return scheme == "https"

"""Daily random salts for visitor hashes: created on demand, destroyed 48 hours after their day.

A salt lives only in its database row. Once it is deleted nobody, the operator included, can
recompute a visitor hash from an IP address and a user agent, nor link two days' visitors.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from avowal.analytics.models import Salt
from avowal.db.upsert import dialect_insert

LIFETIME = dt.timedelta(hours=48)


def salt_for(session: Session, day: dt.date, now: dt.datetime) -> bytes:
    """Return the salt of ``day``, creating it if this is the day's first event.

    Two processes may create it at once: both insert with ON CONFLICT DO NOTHING and both read
    back whichever row won.
    """
    found = session.scalar(select(Salt.salt).where(Salt.day == day))
    if found is not None:
        return found
    insert = dialect_insert(session, Salt).values(
        day=day, salt=secrets.token_bytes(32), created_at=now
    )
    session.execute(insert.on_conflict_do_nothing(index_elements=[Salt.day]))
    salt: bytes = session.scalar(select(Salt.salt).where(Salt.day == day))  # type: ignore[assignment]
    return salt


def visitor_hash(salt: bytes, site: str, ip: str, user_agent: str) -> int:
    """Return the visitor of a day: HMAC-SHA256 of site, IP and user agent, as a signed int64."""
    message = f"{site}\0{ip}\0{user_agent}".encode("utf-8", "surrogatepass")
    digest = hmac.new(salt, message, hashlib.sha256).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def expiry_cutoff(now: dt.datetime) -> dt.date:
    """Return the last day whose salt has expired at ``now`` (its day began 48 h ago or more)."""
    return (now.astimezone(dt.UTC) - LIFETIME).date()


def destroy_expired(session: Session, now: dt.datetime) -> int:
    """Delete the salts of days that began 48 hours or more before ``now``; return how many."""
    result = session.execute(delete(Salt).where(Salt.day <= expiry_cutoff(now)))
    return int(getattr(result, "rowcount", 0) or 0)

"""Daily random salts for visitor hashes: created on demand, destroyed 48 hours after their day.

A salt lives in its database row. Once the row is deleted nobody, the operator included, can
recompute a visitor hash from an IP address and a user agent, nor link two days' visitors.

Each process also keeps the salts it has read in memory (per engine, day -> salt), so that a
group commit does not read the day's salt again: the ingest's writer asks for it once per batch.
This is safe because a salt never changes once created (it is inserted with ON CONFLICT DO
NOTHING and never updated), and because the cache never serves a day at or before
:func:`expiry_cutoff` (with a margin of :data:`CACHE_MARGIN` for clocks that differ between
processes): by the time any process may destroy a day's salt, no process uses its cached copy
any more. :func:`destroy_expired` also drops the destroyed days from this process's cache. Only
a committed salt is cached (one read by a SELECT that this session did not insert), so a salt
created in a transaction that is rolled back is never used again.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
import threading
import weakref

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from avowal.analytics.models import Salt
from avowal.db.upsert import dialect_insert

LIFETIME = dt.timedelta(hours=48)
# A cached salt stops being served this long before its day expires, so that a process whose
# clock is a little behind another's never uses a salt the other has destroyed.
CACHE_MARGIN = dt.timedelta(hours=1)
# Days whose salt this session inserted, in its still open transaction: not committed yet.
_INSERTED = "avowal_salts_inserted"

_cache: weakref.WeakKeyDictionary[Engine, dict[dt.date, bytes]] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def _usable(day: dt.date, now: dt.datetime) -> bool:
    """Say whether a cached salt of ``day`` may still be used at ``now``."""
    return day > expiry_cutoff(now + CACHE_MARGIN)


def _engine_cache(session: Session) -> dict[dt.date, bytes] | None:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else getattr(bind, "engine", None)
    if not isinstance(engine, Engine):
        return None
    with _lock:
        cache = _cache.get(engine)
        if cache is None:
            cache = _cache[engine] = {}
        return cache


def cached(session: Session, day: dt.date, now: dt.datetime) -> bytes | None:
    """Return the salt of ``day`` from this process's cache, if it holds it and may use it."""
    cache = _engine_cache(session)
    if cache is None:
        return None
    salt = cache.get(day)
    if salt is not None and not _usable(day, now):
        cache.pop(day, None)
        return None
    return salt


def _remember(session: Session, day: dt.date, salt: bytes, now: dt.datetime) -> None:
    if day in session.info.get(_INSERTED, ()) or not _usable(day, now):
        return
    cache = _engine_cache(session)
    if cache is not None:
        for old in [d for d in cache if not _usable(d, now)]:
            cache.pop(old, None)
        cache[day] = salt


def salt_for(session: Session, day: dt.date, now: dt.datetime) -> bytes:
    """Return the salt of ``day``, creating it if this is the day's first event.

    Served from this process's cache when it holds the day (see the module's notes). Two
    processes may create it at once: both insert with ON CONFLICT DO NOTHING and both read back
    whichever row won.
    """
    salt = cached(session, day, now)
    if salt is not None:
        return salt
    found = session.scalar(select(Salt.salt).where(Salt.day == day))
    if found is not None:
        _remember(session, day, found, now)
        return found
    token = secrets.token_bytes(32)
    insert = dialect_insert(session, Salt).values(day=day, salt=token, created_at=now)
    session.execute(insert.on_conflict_do_nothing(index_elements=[Salt.day]))
    salt = session.scalar(select(Salt.salt).where(Salt.day == day))
    if salt is None:
        raise RuntimeError(f"the salt of {day} was neither found nor created")
    if salt == token:
        # Ours, and not committed until the caller commits: cached when read again later.
        session.info.setdefault(_INSERTED, set()).add(day)
    else:
        # Another process's, already committed (we could not see it before our insert).
        _remember(session, day, salt, now)
    return salt


def visitor_hash(salt: bytes, site: str, ip: str, user_agent: str) -> int:
    """Return the visitor of a day: HMAC-SHA256 of site, IP and user agent, as a signed int64."""
    message = f"{site}\0{ip}\0{user_agent}".encode("utf-8", "surrogatepass")
    digest = hmac.digest(salt, message, hashlib.sha256)
    return int.from_bytes(digest[:8], "big", signed=True)


def expiry_cutoff(now: dt.datetime) -> dt.date:
    """Return the last day whose salt has expired at ``now`` (its day began 48 h ago or more)."""
    return (now.astimezone(dt.UTC) - LIFETIME).date()


def destroy_expired(session: Session, now: dt.datetime) -> int:
    """Delete the salts of days that began 48 hours or more before ``now``; return how many.

    The destroyed days are dropped from this process's cache too (it would not serve them
    anyway: see :func:`cached`).
    """
    cutoff = expiry_cutoff(now)
    result = session.execute(delete(Salt).where(Salt.day <= cutoff))
    cache = _engine_cache(session)
    if cache is not None:
        for day in [d for d in cache if d <= cutoff]:
            cache.pop(day, None)
    return int(getattr(result, "rowcount", 0) or 0)

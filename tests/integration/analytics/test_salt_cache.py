"""The per-process cache of daily salts, on SQLite and PostgreSQL: never a salt of a day whose
salt is (or may be) destroyed, never one that was not committed."""

from __future__ import annotations

import datetime as dt

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from avowal.analytics import salts
from avowal.analytics.models import Salt
from avowal.db import migrate
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.settings import Settings

NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)

# --- The per-process cache of daily salts ----------------------------------------------------
# Never a salt of a day whose salt is (or may be) destroyed, never one that was not committed.

DAY = NOON.date()
MIDNIGHT = dt.datetime.combine(DAY, dt.time(), tzinfo=dt.UTC)


def salt_at(engine: Engine, day: dt.date, now: dt.datetime) -> bytes:
    with make_sessionmaker(engine)() as session, session.begin():
        return salts.salt_for(session, day, now)


def stored_salt(engine: Engine, day: dt.date) -> bytes | None:
    with engine.connect() as conn:
        return conn.scalar(select(Salt.salt).where(Salt.day == day))


def cached_salt(engine: Engine, day: dt.date, now: dt.datetime) -> bytes | None:
    with Session(engine) as session:
        return salts.cached(session, day, now)


def test_a_committed_salt_is_read_once_then_served_from_memory(engine: Engine) -> None:
    first = salt_at(engine, DAY, NOON)  # created: not cached before its commit
    assert cached_salt(engine, DAY, NOON) is None
    assert salt_at(engine, DAY, NOON) == first == stored_salt(engine, DAY)
    assert cached_salt(engine, DAY, NOON) == first


def test_a_salt_destroyed_here_is_never_served_again(engine: Engine) -> None:
    salt_at(engine, DAY, NOON)
    old = salt_at(engine, DAY, NOON)
    assert cached_salt(engine, DAY, NOON) == old
    expiry = MIDNIGHT + salts.LIFETIME
    with make_sessionmaker(engine)() as session, session.begin():
        assert salts.destroy_expired(session, expiry) == 1
    assert stored_salt(engine, DAY) is None
    assert cached_salt(engine, DAY, NOON) is None  # dropped from the cache, whatever the clock says
    # Asked for again (only a caller with a stale day would), the day gets a new salt.
    assert salt_at(engine, DAY, expiry) != old


def test_a_salt_destroyed_by_another_process_is_never_served(settings: Settings) -> None:
    mine, theirs = make_engine(settings), make_engine(settings)
    try:
        migrate.upgrade(mine)
        salt_at(mine, DAY, NOON)
        old = salt_at(mine, DAY, NOON)
        # Another process (its own engine and cache) destroys it when the day expires.
        expiry = MIDNIGHT + salts.LIFETIME
        with make_sessionmaker(theirs)() as session, session.begin():
            assert salts.destroy_expired(session, expiry) == 1
        # Here the cache still holds it, but gives it to no one at or after the expiry (nor in
        # the margin before it), so the salt is read again: a new one, not the destroyed one.
        for now in (expiry - salts.CACHE_MARGIN, expiry, expiry + dt.timedelta(days=3)):
            assert cached_salt(mine, DAY, now) is None, now
        assert salt_at(mine, DAY, expiry) != old
    finally:
        mine.dispose()
        theirs.dispose()


def test_the_cache_serves_no_day_at_or_before_the_expiry_cutoff(engine: Engine) -> None:
    days = [DAY + dt.timedelta(days=i) for i in range(-3, 2)]
    for day in days:
        salt_at(engine, day, NOON)
        salt_at(engine, day, NOON)  # committed, so now cached
    # At noon, the salts of the day before and after are cached; older ones are expired.
    assert [cached_salt(engine, day, NOON) is not None for day in days] == [False] * 2 + [True] * 3
    now = NOON - dt.timedelta(days=1)
    while now < NOON + dt.timedelta(days=4):
        for day in days:
            if day <= salts.expiry_cutoff(now):
                assert cached_salt(engine, day, now) is None, (day, now)
        now += dt.timedelta(minutes=37)


def test_a_salt_of_a_rolled_back_transaction_is_never_cached(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        session.begin()
        lost = salts.salt_for(session, DAY, NOON)
        # Asked again in the same transaction: the same, uncommitted salt, still not cached.
        assert salts.salt_for(session, DAY, NOON) == lost
        session.rollback()
    assert stored_salt(engine, DAY) is None
    assert cached_salt(engine, DAY, NOON) is None
    kept = salt_at(engine, DAY, NOON)
    assert kept != lost
    assert salt_at(engine, DAY, NOON) == kept == stored_salt(engine, DAY)


@pytest.mark.parametrize("hours", [0, 23, 46])
def test_a_salt_cached_while_its_day_lives_matches_the_database(engine: Engine, hours: int) -> None:
    now = MIDNIGHT + dt.timedelta(hours=hours)
    salt_at(engine, DAY, now)
    assert salt_at(engine, DAY, now) == stored_salt(engine, DAY)
    assert cached_salt(engine, DAY, now) == stored_salt(engine, DAY)

"""Incremental rollups and live totals: only the visitors with new events are counted again.

A day's figures are a sum over its visitors (:meth:`avowal.analytics.rollup.DayFigures.add_visitor`:
a visitor's visits, and +1 visitor for each value they touched). So when events arrive, the
rollups change only by the difference, for each visitor with a new event, between their figures
with the new events and without them: a visit that gets a second page view stops being a bounce,
its exit page moves, its duration grows. :func:`delta` computes that difference from the
visitors' events of the day (one indexed read), whatever the size of the day.

**The mark.** ``analytics_rollup_marks.through_id`` says that every event of the site with an
``id`` up to it is in the rollups. :func:`advance` (the worker, every ``analytics_rollup_seconds``)
takes the next events past the mark, adds their difference to the rollup rows (an upsert adding
to each figure; rows whose visitors fall to zero are deleted) and moves the mark, in one
transaction. :func:`tail` computes the same difference for the events past the mark at read time,
so a dashboard adds them on the fly: totals include an event acknowledged a moment ago.

**Out-of-order commits.** With SQLite's single writer, every event id a reader sees is below
those of any transaction still writing. With several PostgreSQL processes, two ingest
transactions may commit out of id order: a mark moved past the later one's ids would skip the
earlier one's for good. So every ingest transaction holds a shared advisory lock
(:func:`ingest_lock`, taken by :func:`avowal.analytics.store.write_events`), and each worker pass
first takes the same lock exclusively for a moment (:func:`committed_through`): with no ingest
transaction in flight, the largest event id is one through which every event is committed, and
the sequence gives later transactions larger ids. A pass moves marks no further than that. Live
figures (:func:`tail`) need no such bound: they add whatever is committed past the mark.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Callable, Collection, Iterable, Mapping, MutableMapping, Sequence
from typing import Any, cast

from sqlalchemy import Table, delete, func, select, text
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from avowal.analytics import archive
from avowal.analytics.models import DailyRollup, Event, HourlyRollup, RollupMark, RollupState
from avowal.analytics.rollup import (
    FIGURES,
    DayFigures,
    HourTally,
    Tally,
    hour_start,
    lock,
    site_lock,
)
from avowal.analytics.visits import EVENT_COLUMNS, by_visitor, sessionise
from avowal.db import locks
from avowal.db.engine import READ_ONLY
from avowal.db.upsert import dialect_insert

_DAILY = cast(Table, DailyRollup.__table__)
_HOURLY = cast(Table, HourlyRollup.__table__)
_HOUR_FIGURES = ("visitors", "visits", "pageviews", "events")
# Events taken per transaction by the worker; a dashboard adds at most this many past the mark.
STEP = 20_000
TAIL_LIMIT = 20_000
# Visitors read per query (bound parameters stay well under every database's limit).
IN_CHUNK = 500
_ID = len(EVENT_COLUMNS)  # the event id follows the rollup's columns in the rows read here
# The advisory lock every ingest transaction holds shared on PostgreSQL (see the module's notes).
INGEST_LOCK = "analytics-ingest"
# How long a worker pass waits for the ingest transactions in flight to end.
SETTLE_TIMEOUT = "5s"


class IngestBusy(Exception):
    """Ingest transactions stayed in flight too long: this pass moves no mark."""


def ingest_lock(session: Session) -> None:
    """Hold, until the transaction ends, the shared lock of an ingest transaction (PostgreSQL)."""
    locks.hold(session, INGEST_LOCK, shared=True)


def committed_through(session: Session) -> int:
    """Return an event id through which every event is committed (0: no event yet).

    On PostgreSQL, waits (at most :data:`SETTLE_TIMEOUT`, else :class:`IngestBusy`) until no
    ingest transaction is in flight; call it in a session of its own, committed at once (the
    lock is held until then). On SQLite, call it before the session has begun.
    """
    if session.get_bind().dialect.name != "postgresql":
        # SQLite: a reader's snapshot holds only committed events, and a writer in flight adds
        # ids above them. Read without the write lock (a deferred, read-only transaction).
        connection = session.connection(execution_options={READ_ONLY: True})
        return int(connection.scalar(select(func.max(Event.id))) or 0)
    session.execute(text(f"SET LOCAL lock_timeout = '{SETTLE_TIMEOUT}'"))
    try:
        with session.begin_nested():
            locks.hold(session, INGEST_LOCK)
    except OperationalError as exc:
        raise IngestBusy("ingest transactions stayed in flight") from exc
    return int(session.scalar(select(func.max(Event.id))) or 0)


def mark_of(session: Session, site_id: int) -> int | None:
    """Return the id through which a site's events are rolled up (None: never rolled up)."""
    return session.scalar(select(RollupMark.through_id).where(RollupMark.site_id == site_id))


def delta(
    session: Session,
    site_id: int,
    day: dt.date,
    visitors: Collection[int],
    *,
    before: int,
    through: int | None,
    visit_minutes: int,
) -> DayFigures:
    """Return how a day's figures change when its events in (``before``, ``through``] are added.

    Only ``visitors`` (those with such events) are read: for each, their figures with the events
    up to ``through`` (every committed one when None) minus their figures up to ``before``.
    """
    new, old = DayFigures(), DayFigures()
    ordered = sorted(visitors)
    for i in range(0, len(ordered), IN_CHUNK):
        stmt = (
            select(*EVENT_COLUMNS, Event.id)
            .where(
                Event.site_id == site_id,
                Event.day == day,
                Event.visitor.in_(ordered[i : i + IN_CHUNK]),
            )
            .order_by(Event.visitor, Event.ts, Event.id)
        )
        if through is not None:
            stmt = stmt.where(Event.id <= through)
        for visitor, events in by_visitor(session.connection().execute(stmt)):
            new.add_visitor(sessionise(visitor, events, visit_minutes))
            earlier = [e for e in events if e[_ID] <= before]
            if earlier:
                old.add_visitor(sessionise(visitor, earlier, visit_minutes))
    return subtract(new, old)


def subtract(new: DayFigures, old: DayFigures) -> DayFigures:
    """Return ``new - old``, figure by figure; keys that do not change are left out."""
    out = DayFigures()
    _difference(new.daily, old.daily, FIGURES, Tally, out.daily)
    _difference(new.hourly, old.hourly, _HOUR_FIGURES, HourTally, out.hourly)
    return out


def _difference(
    new: Mapping[Any, Any],
    old: Mapping[Any, Any],
    names: Sequence[str],
    empty: Callable[[], Any],
    into: MutableMapping[Any, Any],
) -> None:
    for key in new.keys() | old.keys():
        a, b = new.get(key), old.get(key)
        change = empty()
        for name in names:
            setattr(change, name, (getattr(a, name) if a else 0) - (getattr(b, name) if b else 0))
        if any(getattr(change, name) for name in names):
            into[key] = change


def _new_events(
    session: Session,
    site_id: int,
    after: int,
    limit: int,
    days: Iterable[dt.date] | None = None,
    upto: int | None = None,
) -> tuple[dict[dt.date, set[int]], int | None]:
    """Read the next ``limit`` events past ``after`` (of every site, in id order; up to id
    ``upto`` when given); return the visitors of this site's events per day (of ``days`` only,
    when given) and the last id read.

    Only the id range is given to the database: with the site (or the days) in the condition,
    SQLite prefers the (site, day, visitor) index and reads the site's every event to find the
    newest few. The other sites' events are skipped here, a few rows each.
    """
    stmt = (
        select(Event.id, Event.site_id, Event.day, Event.visitor)
        .where(Event.id > after)
        .order_by(Event.id)
        .limit(limit)
    )
    if upto is not None:
        stmt = stmt.where(Event.id <= upto)
    wanted = None if days is None else set(days)
    found: defaultdict[dt.date, set[int]] = defaultdict(set)
    last: int | None = None
    for row in session.execute(stmt):
        last = row.id
        if row.site_id == site_id and (wanted is None or row.day in wanted):
            found[row.day].add(row.visitor)
    return dict(found), last


def apply(session: Session, site_id: int, day: dt.date, change: DayFigures) -> None:
    """Add a day's change to its rollup rows; delete the rows left without visitors."""
    lock(session, site_id, day)
    daily = [
        {"site_id": site_id, "day": day, "dimension": dim, "value": value, **t.as_dict()}
        for (dim, value), t in change.daily.items()
    ]
    if daily:
        upsert = dialect_insert(session, _DAILY)
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=[_DAILY.c.site_id, _DAILY.c.day, _DAILY.c.dimension, _DAILY.c.value],
                set_={name: _DAILY.c[name] + upsert.excluded[name] for name in FIGURES},
            ),
            daily,
        )
        session.execute(
            delete(DailyRollup).where(
                DailyRollup.site_id == site_id, DailyRollup.day == day, DailyRollup.visitors <= 0
            )
        )
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    hourly = [
        {"site_id": site_id, "hour": hour_start(hour), **{n: getattr(t, n) for n in _HOUR_FIGURES}}
        for hour, t in sorted(change.hourly.items())
        if start <= hour_start(hour) < end  # as in rollup.store_day
    ]
    if hourly:
        upsert = dialect_insert(session, _HOURLY)
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=[_HOURLY.c.site_id, _HOURLY.c.hour],
                set_={name: _HOURLY.c[name] + upsert.excluded[name] for name in _HOUR_FIGURES},
            ),
            hourly,
        )
        session.execute(
            delete(HourlyRollup).where(
                HourlyRollup.site_id == site_id,
                HourlyRollup.hour >= start,
                HourlyRollup.hour < end,
                HourlyRollup.visitors <= 0,
            )
        )


def first_event_day(session: Session, site_id: int) -> dt.date | None:
    """Return the oldest day with raw events of a site (indexed)."""
    return session.scalar(select(func.min(Event.day)).where(Event.site_id == site_id))


def last_final_day(session: Session, site_id: int) -> dt.date | None:
    """Return the newest day of a site whose rollup is final."""
    return session.scalar(
        select(func.max(RollupState.day)).where(
            RollupState.site_id == site_id, RollupState.final.is_(True)
        )
    )


def pending_days(session: Session, site_id: int, today: dt.date) -> list[dt.date]:
    """Return the days of a site to roll up: from the first non-final day with events to today.

    Final days are never redone (their raw events may be purged): a day turns final when rolled
    up an hour after its end, so today and yesterday are redone until then.
    """
    last = last_final_day(session, site_id)
    first = first_event_day(session, site_id)
    if last is not None:
        start = last + dt.timedelta(days=1)
    elif first is not None:
        start = first
    else:
        return []
    if first is not None and last is not None and first > start:
        start = first
    finals = set(
        session.scalars(
            select(RollupState.day).where(
                RollupState.site_id == site_id,
                RollupState.final.is_(True),
                RollupState.day >= start,
            )
        )
    )
    count = (today - start).days + 1
    days = (start + dt.timedelta(days=i) for i in range(max(count, 0)))
    return [d for d in days if d not in finals]


def set_mark(session: Session, site_id: int, through: int, now: dt.datetime) -> None:
    """Record that a site's events up to ``through`` are in its rollups."""
    mark = session.get(RollupMark, site_id)
    if mark is None:
        session.add(RollupMark(site_id=site_id, through_id=through, rolled_at=now))
    else:
        mark.through_id = through
        mark.rolled_at = now
    session.flush()


def _touch(session: Session, site_id: int, day: dt.date, now: dt.datetime) -> None:
    state = session.get(RollupState, (site_id, day))
    if state is None:
        session.add(RollupState(site_id=site_id, day=day, rolled_at=now, final=False))
        return
    state.rolled_at = now
    if state.final:
        archive.forget_day(session, site_id, day)  # a late event changed a final day


def advance(
    session: Session,
    site_id: int,
    *,
    now: dt.datetime,
    visit_minutes: int,
    upto: int,
    limit: int = STEP,
) -> list[dt.date] | None:
    """Add the next events past a site's mark (at most ``limit`` read, none past ``upto``, from
    :func:`committed_through`) to its rollups; move the mark.

    Returns the days that changed (maybe none: the events read were other sites'), or None when
    no event is past the mark. The site must have a mark (the worker's first pass sets it).
    """
    site_lock(session, site_id)
    before = mark_of(session, site_id)
    if before is None:
        raise LookupError(f"site {site_id} has no rollup mark")
    found, last = _new_events(session, site_id, before, limit, upto=upto)
    if last is None:
        return None
    for day, visitors in sorted(found.items()):
        change = delta(
            session,
            site_id,
            day,
            visitors,
            before=before,
            through=last,
            visit_minutes=visit_minutes,
        )
        apply(session, site_id, day, change)
        _touch(session, site_id, day, now)
    set_mark(session, site_id, last, now)
    return sorted(found)


def tail(
    session: Session, site_id: int, days: Sequence[dt.date], *, visit_minutes: int
) -> dict[dt.date, DayFigures]:
    """Return, per day, what the events past the site's mark add to its rollups (live figures).

    At most :data:`TAIL_LIMIT` events are added (the oldest): past that the worker is far
    behind, and the figures lag by the rest until it catches up.
    """
    before = mark_of(session, site_id)
    if before is None or not days:
        return {}
    found, last = _new_events(session, site_id, before, TAIL_LIMIT, days)
    if last is None:
        return {}
    return {
        day: delta(
            session,
            site_id,
            day,
            visitors,
            before=before,
            through=last,
            visit_minutes=visit_minutes,
        )
        for day, visitors in found.items()
    }

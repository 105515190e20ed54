"""Roll raw analytics events up into per-day and per-hour figures, so dashboards read rollups.

**Visits.** A day's events are grouped by visitor and ordered by time; a gap longer than
``analytics_visit_minutes`` starts a new visit
(:mod:`avowal.analytics.visits`). Custom events belong to visits like page views
(they extend them and keep them alive). Per visit:

- entry page: the path of its first page view; exit page: the path of its last page view
  (a visit of custom events only has neither);
- duration: last event time minus first event time, in whole seconds (truncated);
- bounce: exactly one page view and no interactive custom event (Plausible's rule: an
  interaction is not a bounce; an event sent with ``interactive: false`` is not one);
- source, referrer, UTM tags, browser, OS, device and country: those of its first event. A visit
  without a source is counted under ``Direct / None``; other missing values are not counted.

**Engagement.** Plausible's ``engagement`` events (sent when a tab is hidden) are neither page
views nor custom events: they never start, extend or un-bounce a visit and are never goals. Each
belongs to the visit under way (one arriving outside any visit is ignored) and to its page: per
visit and page, its deepest scroll (``scroll_depth``, 0-100) and summed engaged milliseconds.

**Days.** The visitor hash is keyed with a salt of the UTC day, so the same person has another
hash the next day: a visitor is counted once per day, and daily figures are additive across days
(the unique visitors of a range are the sum of the daily uniques, as in Plausible with daily salt
rotation). For the same reason a visit never crosses midnight: events after 00:00 UTC have a new
hash, so a visit is attributed to the day it started and the rest counts as a visit of the next
day. Days are the ``day`` column the ingest writes (the UTC date of ``ts``).

**Rollup rows** (``analytics_daily``), one per (site, day, dimension, value):

- ``total`` (value ``""``), the visit attributes above, ``entry_page`` and ``exit_page``:
  ``visitors`` who had at least one such visit, ``visits``, and those visits' ``pageviews``,
  ``bounces``, ``duration_s`` and custom ``events``;
- ``page``: ``visitors`` and ``visits`` that viewed it, its ``pageviews``, ``bounces`` of visits
  that viewed it (a bounce views one page only), and ``duration_s`` = time on page: the seconds
  from each view to the next page view of the same visit (a visit's last view adds nothing, so
  the average time on page is ``duration_s / (pageviews - exits)``);
  Pages also sum engagement: ``engaged_ms``, ``scrolls`` (visits that reported engagement on
  the page) and ``scroll_sum`` (those visits' deepest scroll), so the average scroll depth is
  ``scroll_sum / scrolls`` and the engaged time on page ``engaged_ms / scrolls``;
- ``event`` (custom event names) and ``prop`` (``key=value`` of custom events' properties):
  ``visitors``, ``visits`` and ``events`` (how many times), other figures zero;
- ``revenue`` (value ``"EUR Purchase"``: the currency, a space, the goal): ``visitors``,
  ``visits``, ``events`` with a revenue and ``revenue_micros``, their amount in millionths.

Hourly rows (``analytics_hourly``) per UTC hour: distinct visitors active in the hour, visits
started in it, page views and custom events in it.

**Recomputing.** A day is rolled up by recomputing it from its raw events and replacing its rows
(delete + insert in the caller's transaction), so a rollup is idempotent and never drifts. Events
are streamed ordered by (visitor, ts); memory holds one visitor's events and one tally per
distinct (dimension, value) of the day, never the day's events or visitor sets.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import cast

from sqlalchemy import Table, delete, insert, select
from sqlalchemy.orm import Session

from avowal.analytics import dimensions
from avowal.analytics.dimensions import DIRECT

# Re-exported: callers name it with the rollup code that applies it.
from avowal.analytics.filters import VisitFilter as VisitFilter
from avowal.analytics.models import DailyRollup, Event, HourlyRollup, RollupState
from avowal.analytics.visits import (
    EVENT_COLUMNS,
    MAX_VALUE,
    MICROS,
    VISIT_DIMENSIONS,
    Visit,
    by_visitor,
    sessionise,
)
from avowal.db import locks

TOTAL = "total"
# The visit attributes, in the order of their columns in EVENT_COLUMNS (from index 4 on).
REVENUE = "revenue"
# The rollup rows' dimensions: the registry's, with the totals and revenue per goal.
DIMENSIONS = (TOTAL, *dimensions.NAMES, REVENUE)
_TOTAL_KEY = (TOTAL, "")
_REST = VISIT_DIMENSIONS[1:]

_DAILY = cast(Table, DailyRollup.__table__)
_HOURLY = cast(Table, HourlyRollup.__table__)

HOUR_US = 3600 * MICROS
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
# Streamed in chunks: a large day never sits in memory whole.
CHUNK = 5000


def hour_start(hour: int) -> dt.datetime:
    """Return the aware UTC start of an hour counted from the epoch."""
    return _EPOCH + dt.timedelta(hours=hour)


class Tally:
    """The additive figures of one (dimension, value) of a day."""

    __slots__ = (
        "bounces",
        "duration_s",
        "engaged_ms",
        "events",
        "pageviews",
        "revenue_micros",
        "scroll_sum",
        "scrolls",
        "visitors",
        "visits",
    )

    def __init__(self) -> None:
        self.visitors = self.visits = self.pageviews = self.bounces = 0
        self.duration_s = self.events = 0
        self.engaged_ms = self.scroll_sum = self.scrolls = self.revenue_micros = 0

    def as_dict(self) -> dict[str, int]:
        """Return the figures by column name."""
        return {name: getattr(self, name) for name in FIGURES}


FIGURES = (
    "visitors",
    "visits",
    "pageviews",
    "bounces",
    "duration_s",
    "events",
    "engaged_ms",
    "scroll_sum",
    "scrolls",
    "revenue_micros",
)


class HourTally:
    """The figures of one UTC hour."""

    __slots__ = ("events", "pageviews", "visitors", "visits")

    def __init__(self) -> None:
        self.visitors = self.visits = self.pageviews = self.events = 0


@dataclass
class DayFigures:
    """The rolled-up figures of one site-day: per (dimension, value), and per hour."""

    # Missing keys are created empty on first use: read with .get() to look without adding.
    daily: defaultdict[tuple[str, str], Tally] = field(default_factory=lambda: defaultdict(Tally))
    hourly: defaultdict[int, HourTally] = field(default_factory=lambda: defaultdict(HourTally))

    def add_visitor(self, visits: Sequence[Visit]) -> None:
        """Count one visitor's visits of the day (a visitor counts once per value touched)."""
        seen: set[tuple[str, str]] = set()
        hours: set[int] = set()
        for visit in visits:
            self._add_visit(visit, seen, hours)
        daily, hourly = self.daily, self.hourly
        for key in seen:
            daily[key].visitors += 1
        for hour in hours:
            hourly[hour].visitors += 1

    def _add_visit(self, visit: Visit, seen: set[tuple[str, str]], hours: set[int]) -> None:
        # The hot loop of a rollup (every event of the day passes here): locals, no helpers.
        daily, hourly = self.daily, self.hourly
        keys = [_TOTAL_KEY, ("source", visit.attrs[0] or DIRECT)]
        keys += [(d, v) for d, v in zip(_REST, visit.attrs[1:], strict=True) if v]
        pages = visit.pages
        views = len(pages)
        if pages:
            keys += [("entry_page", pages[0][1]), ("exit_page", pages[-1][1])]
        customs = len(visit.customs)
        bounce = 1 if views == 1 and not any(c.interactive for c in visit.customs) else 0
        duration = (visit.end - visit.start) // MICROS
        for key in keys:
            t = daily[key]
            t.visits += 1
            t.pageviews += views
            t.bounces += bounce
            t.duration_s += duration
            t.events += customs
        seen.update(keys)
        viewed: set[tuple[str, str]] = set()
        last = views - 1
        for i, (ts, path) in enumerate(pages):
            key = ("page", path)
            t = daily[key]
            t.pageviews += 1
            if i < last:
                t.duration_s += (pages[i + 1][0] - ts) // MICROS
            viewed.add(key)
            hour = ts // HOUR_US
            hourly[hour].pageviews += 1
            hours.add(hour)
        for key in viewed:
            t = daily[key]
            t.visits += 1
            t.bounces += bounce
        for path, (depth, engaged_ms) in visit.engaged.items():
            if ("page", path) not in viewed:
                continue  # engagement on a page this visit never viewed: no page to add it to
            t = daily[("page", path)]
            t.scrolls += 1
            t.scroll_sum += depth
            t.engaged_ms += engaged_ms
        fired: set[tuple[str, str]] = set()
        for ts, name, props, _, revenue in visit.customs:
            named = [("event", name)]
            if props:
                # A 300-character name and a 2000-character value fit no rollup row whole.
                named += [("prop", f"{k}={v}"[:MAX_VALUE]) for k, v in props.items()]
            if revenue is not None:
                key = (REVENUE, f"{revenue[0]} {name}")
                daily[key].revenue_micros += revenue[1]
                named.append(key)
            for key in named:
                daily[key].events += 1
            fired.update(named)
            hour = ts // HOUR_US
            hourly[hour].events += 1
            hours.add(hour)
        for key in fired:
            daily[key].visits += 1
        seen.update(viewed, fired)
        hourly[visit.start // HOUR_US].visits += 1


def compute_day(
    session: Session,
    site_id: int,
    day: dt.date,
    *,
    visit_minutes: int,
    filters: Sequence[VisitFilter] = (),
    through: int | None = None,
) -> DayFigures:
    """Compute a site-day's figures from its raw events, counting only visits every filter keeps.

    With ``through``, only the events with an id up to it count (those a site's rollup mark
    covers, :mod:`avowal.analytics.incremental`).

    With filters, SQL first narrows the events to visitors who may match, then each visit is
    checked in Python: the cost is one indexed pass over the day plus the matching visitors.
    """
    stmt = (
        select(*EVENT_COLUMNS)
        .where(Event.site_id == site_id, Event.day == day)
        .order_by(Event.visitor, Event.ts, Event.id)
    )
    if through is not None:
        stmt = stmt.where(Event.id <= through)
    for f in filters:
        stmt = f.narrow(stmt, site_id, day)
    figures = DayFigures()
    # Core rows (not ORM-processed), streamed: a large day never sits in memory whole.
    rows = session.connection().execute(stmt.execution_options(yield_per=CHUNK))
    for visitor, events in by_visitor(rows):
        visits = sessionise(visitor, events, visit_minutes)
        if filters:
            visits = [v for v in visits if all(f.matches(v) for f in filters)]
        if visits:
            figures.add_visitor(visits)
    return figures


def lock(session: Session, site_id: int, day: dt.date) -> None:
    # Two server processes (PostgreSQL) may roll the same day at once: one waits for the other,
    # so the delete + insert never interleave. SQLite has a single writer anyway.
    locks.hold(session, f"analytics-rollup:{site_id}:{day}")


def site_lock(session: Session, site_id: int) -> None:
    """Serialise, on PostgreSQL, the transactions that move a site's mark or redo its days.

    Two processes' workers may pass at once: one waits for the other, then reads the mark it
    left. (SQLite has a single writer: a second one fails to write and retries at the next pass.)
    """
    locks.hold(session, f"analytics-site:{site_id}")


def store_day(
    session: Session,
    site_id: int,
    day: dt.date,
    figures: DayFigures,
    *,
    now: dt.datetime,
    final: bool,
) -> None:
    """Replace a site-day's rollup rows by ``figures`` and record when it was rolled up."""
    lock(session, site_id, day)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    session.execute(
        delete(DailyRollup).where(DailyRollup.site_id == site_id, DailyRollup.day == day)
    )
    session.execute(
        delete(HourlyRollup).where(
            HourlyRollup.site_id == site_id, HourlyRollup.hour >= start, HourlyRollup.hour < end
        )
    )
    daily = [
        {"site_id": site_id, "day": day, "dimension": dim, "value": value, **t.as_dict()}
        for (dim, value), t in figures.daily.items()
    ]
    # Core inserts (executemany): the ORM's bulk path costs far more per row here.
    if daily:
        session.execute(insert(_DAILY), daily)
    hourly = [
        {
            "site_id": site_id,
            "hour": hour_start(hour),
            "visitors": t.visitors,
            "visits": t.visits,
            "pageviews": t.pageviews,
            "events": t.events,
        }
        for hour, t in sorted(figures.hourly.items())
        # An event stamped outside its day (never written by the ingest) would collide with
        # the neighbouring day's hours: its hour is left to that day.
        if start <= hour_start(hour) < end
    ]
    if hourly:
        session.execute(insert(_HOURLY), hourly)
    state = session.get(RollupState, (site_id, day))
    if state is None:
        session.add(RollupState(site_id=site_id, day=day, rolled_at=now, final=final))
    else:
        state.rolled_at = now
        state.final = final
    session.flush()


# A day is final once rolled up this long after its end: late events (batched ingest) are in.
FINAL_AFTER = dt.timedelta(hours=1)


def is_final(day: dt.date, now: dt.datetime) -> bool:
    """Tell whether a rollup of ``day`` computed at ``now`` can no longer change."""
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)
    return now >= end + FINAL_AFTER


def roll_day(
    session: Session,
    site_id: int,
    day: dt.date,
    *,
    now: dt.datetime,
    visit_minutes: int,
    through: int | None = None,
) -> DayFigures:
    """Recompute a site-day's rollups from its raw events (up to the id ``through``, when
    given); final once the day is over."""
    figures = compute_day(session, site_id, day, visit_minutes=visit_minutes, through=through)
    store_day(session, site_id, day, figures, now=now, final=is_final(day, now))
    return figures

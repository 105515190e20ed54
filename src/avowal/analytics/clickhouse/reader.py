"""Dashboard figures from the ClickHouse store: each day's rollup figures computed in ClickHouse
from raw events, filtered or not.

ClickHouse aggregates a site's raw events fast enough to need no rollup tables: a reader asks
one statement (:mod:`avowal.analytics.clickhouse.sql`) for the figures of the dimensions it is
asked for (the totals for the time series, one dimension for a table, the hours) over the days
of a range it has not computed them for yet, and keeps them per (day, dimension): asking again
is free, and a dashboard request (a new reader each) computes only what it answers, not every
dimension of every day. :meth:`ClickHouseReader.figures` without dimensions computes them all
(the worker's rollups). The figures are defined exactly as
:func:`avowal.analytics.rollup.compute_day` defines them;
:class:`avowal.analytics.readers.DayFiguresReader` sums and ranks them, as for raw events in the
relational store.

The visits of the days the worker has rolled up for good are read from ``analytics_visits``
(:func:`avowal.analytics.clickhouse.events.store_visits` keeps them there), the others' made
from raw events; the filters select among both alike: a filtered range of days that are over
reads visits instead of re-making them, the costly part of its figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from functools import cached_property
from typing import TYPE_CHECKING, Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avowal.analytics.clickhouse import events, schema, sql
from avowal.analytics.filters import VisitFilter
from avowal.analytics.models import RollupState
from avowal.analytics.query import REALTIME_MINUTES, DayRange
from avowal.analytics.readers import HOURS, DayFiguresReader, RollupReader, merge
from avowal.analytics.rollup import FIGURES, DayFigures, HourTally, Tally
from avowal.analytics.sampling import Sample
from avowal.analytics.visits import PAGEVIEW, micros

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

# A wanted dimension's index in the statement's rows (sql.DIMENSIONS, or sql.HOUR).
_INDEX = {**sql.INDEX, HOURS: sql.HOUR}
# The dimensions summed together with one asked for every value of: the pages with their exit
# pages (a page's table shows its exit rate; :func:`sql._pages_and_exits` reads both at once).
_WITH = {sql.INDEX["page"]: frozenset({sql.INDEX["page"], sql.INDEX["exit_page"]})}


class ClickHouseReader(DayFiguresReader):
    """Figures of the visits the filters select (all visits without filters), per day computed
    in ClickHouse from raw events, each dimension of a day once per reader."""

    basis = "clickhouse"

    def __init__(
        self,
        client: Client,
        site_id: int,
        filters: tuple[VisitFilter, ...] = (),
        *,
        visit_minutes: int,
        history: Session | None = None,
        stored_visits: bool = True,
        sample: Sample | None = None,
    ) -> None:
        self.client = client
        # Read the visits of a sample of visitors only, their figures scaled up (sampling).
        self.sample = sample
        # Whether the visits of days that are over are read from analytics_visits, where the
        # worker keeps them (events.store_visits), rather than made again from raw events.
        self.stored_visits = stored_visits
        self.site_id = site_id
        self.filters = filters
        self.visit_minutes = visit_minutes
        self._days: dict[dt.date, DayFigures] = {}
        # The dimensions (indices) of each day computed into _days so far.
        self._done: dict[dt.date, set[int]] = {}
        # The days stored and the days with events, per range looked up (_days_of).
        self._lookups: dict[tuple[dt.date, dt.date], tuple[list[dt.date], list[dt.date]]] = {}
        # The sums over days asked of ClickHouse (_summed), by (dimension index, first day, last
        # day, the values asked for or None for all).
        self._sums: dict[
            tuple[int, dt.date, dt.date, tuple[str, ...] | None], dict[str, Tally]
        ] = {}
        # Unfiltered, the days that are over are read from the rollups the worker stored from
        # ClickHouse when each day ended (worker.roll_clickhouse), as the database store reads
        # them: a 30-day dashboard sums rows instead of recomputing visits from 30 days of raw
        # events, and days past the raw retention keep their figures. Filters need raw events
        # (query.check_retention refuses a filtered range reaching past them).
        self.history = (
            RollupReader(history, site_id) if history is not None and not filters else None
        )

    @cached_property
    def last_final_day(self) -> dt.date | None:
        """The site's last day rolled up for good (every day before it is, or has no events:
        the worker rolls them oldest first); None when no rollups are read (filtered)."""
        if self.history is None:
            return None
        return self.history.session.scalar(
            select(func.max(RollupState.day)).where(
                RollupState.site_id == self.site_id, RollupState.final.is_(True)
            )
        )

    def split(self, days: DayRange) -> tuple[list[dt.date], list[dt.date]]:
        """Return the days of ``days`` read from rollups (those rolled up for good), and the
        others (from ClickHouse's raw events)."""
        last = self.last_final_day
        if last is None or days.start > last:
            return [], list(days.each())
        return [d for d in days.each() if d <= last], [d for d in days.each() if d > last]

    def archived_totals(self, days: list[dt.date]) -> dict[dt.date, Tally]:
        """Return the rolled-up totals of each of ``days`` that has any."""
        assert self.history is not None
        return self.history.by_day(DayRange(days[0], days[-1]))

    def archived_sums(
        self, dimension: str, days: list[dt.date], values: list[str] | None
    ) -> dict[str, Tally]:
        """Return the rolled-up figures of a dimension's values summed over ``days``."""
        assert self.history is not None
        within = DayRange(days[0], days[-1])
        if values is None:
            return dict(self.history.breakdown(dimension, within, None))
        return self.history.values(dimension, within, values)

    def by_hour(self, days: DayRange) -> dict[dt.datetime, HourTally]:
        """Return the figures of each hour (aware UTC start) that has any."""
        older, recent = self.split(days)
        found: dict[dt.datetime, HourTally] = {}
        if older:
            assert self.history is not None
            found.update(self.history.by_hour(DayRange(older[0], older[-1])))
        if recent:
            found.update(super().by_hour(DayRange(recent[0], recent[-1])))
        return found

    def figures(
        self, days: Sequence[dt.date], wanted: Collection[str] | None = None
    ) -> dict[dt.date, DayFigures]:
        """Return the figures of each of ``days``: whole, or at least those of the ``wanted``
        dimensions (:data:`~avowal.analytics.readers.HOURS` for the hours). What is not
        computed yet is computed by one statement: the dimensions missing from any of the days,
        from the first to the last of those days."""
        indices = sql.ALL if wanted is None else frozenset(_INDEX[name] for name in wanted)
        missing = [day for day in days if not indices <= self._done.get(day, set())]
        if missing:
            first, last = min(missing), max(missing)
            needed = frozenset().union(*(indices - self._done.get(day, set()) for day in missing))
            found = self._compute(first, last, needed)
            day = first
            while day <= last:
                into = self._days.setdefault(day, DayFigures())
                done = self._done.setdefault(day, set())
                new = needed - done
                computed = found.get(day)
                if computed is not None and new:
                    for key, t in computed.daily.items():
                        if sql.INDEX[key[0]] in new:
                            into.daily[key] = t
                    if sql.HOUR in new:
                        into.hourly.update(computed.hourly)
                done |= needed
                day += dt.timedelta(days=1)
        return {day: self._days[day] for day in days}

    def _summed(
        self, dimension: str, days: DayRange, values: list[str] | None = None
    ) -> dict[str, Tally]:
        """Return a dimension's figures (of the given values) summed over ``days``: summed in
        ClickHouse unless this reader has the figures of each day already (a dimension's rows
        per day would cost more to fetch than their sums)."""
        index = _INDEX[dimension]
        archived, raw = self.split(days)
        if not raw or all(index in self._done.get(day, set()) for day in raw):
            return super()._summed(dimension, days, values)
        sums = self.archived_sums(dimension, archived, values) if archived else {}
        for value, t in self._sums_of(index, raw[0], raw[-1], values).items():
            merge(sums.setdefault(value, Tally()), t)
        return sums

    def _sums_of(
        self, index: int, first: dt.date, last: dt.date, values: list[str] | None
    ) -> dict[str, Tally]:
        """Return a dimension's figures (of the given values) summed from ``first`` to ``last``
        in ClickHouse, asked once per reader; the given values' are taken from every value's
        when those are known."""
        every = self._sums.get((index, first, last, None))
        if every is not None:
            return every if values is None else {v: every[v] for v in values if v in every}
        asked = None if values is None else tuple(values)
        found = self._sums.get((index, first, last, asked))
        if found is not None:
            return found
        indices = _WITH.get(index, frozenset([index])) if values is None else frozenset([index])
        for i in indices:
            self._sums[(i, first, last, asked)] = {}
        for i, value, *figures in self._rows(first, last, indices, values=values, summed=True):
            self._sums[(i, first, last, asked)][value] = _tally(figures, self.sample)
        return self._sums[(index, first, last, asked)]

    def _query(
        self, first: dt.date, last: dt.date, wanted: frozenset[int], **options: Any
    ) -> tuple[str, dict[str, Any]] | None:
        """Return the statement and parameters of the ``wanted`` dimensions' figures from
        ``first`` to ``last`` (:func:`sql.figures_query`, with ``options``), or None when no day
        of them is stored or has events."""
        stored, present = self._days_of(first, last)
        return sql.figures_query(
            self.site_id,
            first,
            last,
            self.filters,
            visit_minutes=self.visit_minutes,
            wanted=wanted,
            stored=stored,
            present=present,
            sample=None if self.sample is None else self.sample.bound,
            **options,
        )

    def _days_of(self, first: dt.date, last: dt.date) -> tuple[list[dt.date], list[dt.date]]:
        """Return the days from ``first`` to ``last`` whose visits are stored, and those with
        events, looked up once per reader (a request's)."""
        found = self._lookups.get((first, last))
        if found is None:
            stored = (
                events.stored_visit_days(
                    self.client, self.site_id, first, last, visit_minutes=self.visit_minutes
                )
                if self.stored_visits
                else []
            )
            found = self._lookups[(first, last)] = (
                stored,
                events.event_days(self.client, first, last),
            )
        return found

    def _rows(
        self, first: dt.date, last: dt.date, wanted: frozenset[int], **options: Any
    ) -> Sequence[Sequence[Any]]:
        """Return the rows of :meth:`_query`'s statement (none without one)."""
        query = self._query(first, last, wanted, **options)
        if query is None:
            return []
        statement, parameters = query
        return self.client.query(statement, parameters=parameters).result_rows

    def _compute(
        self, first: dt.date, last: dt.date, wanted: frozenset[int]
    ) -> dict[dt.date, DayFigures]:
        """Return the figures of the ``wanted`` dimensions (indices) of each day from ``first``
        to ``last`` that has any."""
        found: dict[dt.date, DayFigures] = {}
        for day, dimension, value, *figures in self._rows(first, last, wanted):
            into = found.get(day)
            if into is None:
                into = found[day] = DayFigures()
            if dimension == sql.HOUR:
                h = into.hourly[int(value)]
                # The entries' columns: visitors, visits, pageviews (...), events.
                h.visitors, h.visits, h.pageviews, h.events = (
                    _scaled(figures[i], self.sample) for i in (0, 1, 2, 5)
                )
                continue
            into.daily[(sql.DIMENSIONS[dimension], value)] = _tally(figures, self.sample)
        return found


def _scaled(number: int, sample: Sample | None) -> int:
    return int(number) if sample is None else sample.scale(int(number))


def _tally(figures: Sequence[int], sample: Sample | None) -> Tally:
    """Return a row's figures, in :data:`FIGURES` order, as a tally (estimates of the whole
    when they are a sample's)."""
    t = Tally()
    for name, number in zip(FIGURES, figures, strict=True):
        setattr(t, name, _scaled(number, sample))
    return t


def realtime(client: Client, site_id: int, now: dt.datetime) -> dict[str, Any]:
    """Return the visitors and page views of the last 30 minutes, and their top pages
    (:func:`avowal.analytics.dashboard.realtime`, from ClickHouse)."""
    since = now - dt.timedelta(minutes=REALTIME_MINUTES)
    parameters = {
        "site_id": site_id,
        "since": micros(since),
        "now": micros(now),
        "first": since.astimezone(dt.UTC).date(),
        "last": now.astimezone(dt.UTC).date(),
        "pageview": PAGEVIEW,
    }
    # The day bounds let ClickHouse read the one or two partitions of the window only.
    window = (
        f"FROM {schema.TABLE} WHERE site_id = {{site_id:UInt32}} "
        "AND day >= {first:Date} AND day <= {last:Date} "
        "AND ts >= fromUnixTimestamp64Micro({since:Int64}, 'UTC') "
        "AND ts <= fromUnixTimestamp64Micro({now:Int64}, 'UTC')"
    )
    visitors, views = client.query(
        f"SELECT uniqExact(visitor), countIf(name = {{pageview:String}}) {window}",
        parameters=parameters,
    ).result_rows[0]
    pages = client.query(
        f"SELECT path, uniqExact(visitor) AS visitors {window} AND name = {{pageview:String}} "
        "GROUP BY path ORDER BY visitors DESC, path LIMIT 5",
        parameters=parameters,
    ).result_rows
    return {
        "minutes": REALTIME_MINUTES,
        "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "visitors": int(visitors),
        "pageviews": int(views),
        "pages": [{"value": path, "visitors": int(n)} for path, n in pages],
    }

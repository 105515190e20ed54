"""Where dashboard figures come from: the rollup tables, or raw events when filtered.

:class:`RollupReader` sums ``analytics_daily`` / ``analytics_hourly`` rows: a 30-day request
reads at most (distinct values of a dimension) x 30 rows whatever the traffic, and aggregates
in SQL (GROUP BY value, top N).

:class:`RawReader` serves filtered requests. Rollups hold no per-visit cross figures (page x
source x every other dimension would be far larger than the rollups themselves), so a filter
recomputes each day of the range from raw events with the rollup code itself
(:func:`avowal.analytics.rollup.compute_day`), keeping only the selected visits. Its cost grows
with the events of the range (one indexed SQL pass per day plus Python work for the visitors who
may match), and it is only possible within the raw-event retention window.

Both it and the ClickHouse store's reader
(:class:`avowal.analytics.clickhouse.reader.ClickHouseReader`) answer from per-day
:class:`~avowal.analytics.rollup.DayFigures`: :class:`DayFiguresReader` sums and ranks them,
once for both.
"""

from __future__ import annotations

import datetime as dt
import time
from abc import ABC, abstractmethod
from collections.abc import Collection, Sequence
from typing import Any, Protocol

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avowal.analytics import archive, incremental
from avowal.analytics.exceptions import PENDING_RETRY, FiltersPending
from avowal.analytics.models import ArchivedRollup, DailyRollup, HourlyRollup
from avowal.analytics.query import DayRange
from avowal.analytics.rollup import (
    FIGURES,
    TOTAL,
    DayFigures,
    HourTally,
    Tally,
    VisitFilter,
    compute_day,
    hour_start,
)
from avowal.analytics.sampling import Sample
from avowal.lib import clock

# The hours' figures (DayFigures.hourly), named as a dimension among those a reader is asked for.
HOURS = "hours"


def _tally(row: Any) -> Tally:
    t = Tally()
    for name in FIGURES:
        setattr(t, name, int(getattr(row, name) or 0))
    return t


def merge(into: Tally, other: Tally) -> None:
    """Add ``other``'s figures to ``into``."""
    for name in FIGURES:
        setattr(into, name, getattr(into, name) + getattr(other, name))


def _rank(item: tuple[str, Tally]) -> tuple[int, int, int, str]:
    value, t = item
    return (-t.visitors, -t.pageviews, -t.events, value)


class Reader(Protocol):
    """The figures a dashboard needs, for one site."""

    basis: str
    # The sample of visitors the figures are estimated from (avowal.analytics.sampling), or
    # None when they are exact.
    sample: Sample | None

    def by_day(self, days: DayRange) -> dict[dt.date, Tally]:
        """Return the totals of each day that has any."""

    def breakdown(
        self, dimension: str, days: DayRange, limit: int | None
    ) -> list[tuple[str, Tally]]:
        """Return a dimension's values with their summed figures, most visitors first."""

    def values(self, dimension: str, days: DayRange, values: Collection[str]) -> dict[str, Tally]:
        """Return the summed figures of the given values of a dimension."""

    def by_hour(self, days: DayRange) -> dict[dt.datetime, HourTally]:
        """Return the figures of each hour (aware UTC start) that has any."""


class RollupReader:
    """Figures summed from the rollup tables (SQL aggregation), live when ``visit_minutes`` is
    given: the events past the site's rollup mark are added on the fly
    (:func:`avowal.analytics.incremental.tail`), so an event acknowledged a moment ago counts."""

    basis = "rollups"
    sample: Sample | None = None

    def __init__(self, session: Session, site_id: int, *, visit_minutes: int | None = None) -> None:
        self.session = session
        self.site_id = site_id
        self.visit_minutes = visit_minutes
        self._tails: dict[dt.date, DayFigures | None] = {}

    def tail(self, days: DayRange) -> dict[dt.date, DayFigures]:
        """Return what the events not yet rolled up add to each day of ``days`` (computed once
        per day and request)."""
        if self.visit_minutes is None:
            return {}
        missing = [day for day in days.each() if day not in self._tails]
        if missing:
            found = incremental.tail(
                self.session, self.site_id, missing, visit_minutes=self.visit_minutes
            )
            for day in missing:
                self._tails[day] = found.get(day)
        return {day: t for day in days.each() if (t := self._tails[day]) is not None}

    def _tail_values(self, dimension: str, days: DayRange) -> dict[str, Tally]:
        sums: dict[str, Tally] = {}
        for figures in self.tail(days).values():
            for (dim, value), t in figures.daily.items():
                if dim == dimension:
                    merge(sums.setdefault(value, Tally()), t)
        return sums

    def _sums(self) -> list[Any]:
        return [func.sum(getattr(DailyRollup, name)).label(name) for name in FIGURES]

    def _where(self, dimension: str, days: DayRange) -> list[Any]:
        # The unique index is (site_id, day, dimension, value): listing the days lets the
        # database seek each (site, day, dimension) instead of reading every dimension of the
        # range, so a query reads only its own rows whatever else the days hold.
        return [
            DailyRollup.site_id == self.site_id,
            DailyRollup.day.in_(list(days.each())),
            DailyRollup.dimension == dimension,
        ]

    def by_day(self, days: DayRange) -> dict[dt.date, Tally]:
        """Return the totals of each day that has any."""
        rows = self.session.execute(
            select(DailyRollup.day, *(getattr(DailyRollup, n) for n in FIGURES)).where(
                *self._where(TOTAL, days)
            )
        )
        found = {row.day: _tally(row) for row in rows}
        for day, figures in self.tail(days).items():
            change = figures.daily.get((TOTAL, ""))
            if change is not None:
                merge(found.setdefault(day, Tally()), change)
        return found

    def breakdown(
        self, dimension: str, days: DayRange, limit: int | None
    ) -> list[tuple[str, Tally]]:
        """Return a dimension's values with their summed figures, most visitors first."""
        stmt = (
            select(DailyRollup.value, *self._sums())
            .where(*self._where(dimension, days))
            .group_by(DailyRollup.value)
            .order_by(
                func.sum(DailyRollup.visitors).desc(),
                func.sum(DailyRollup.pageviews).desc(),
                func.sum(DailyRollup.events).desc(),
                DailyRollup.value,
            )
        )
        changes = self._tail_values(dimension, days)
        if limit is not None:
            # A value past the limit may enter it with the events not yet rolled up (they are
            # read below), or once a value in it drops out (one more row read per change).
            stmt = stmt.limit(limit + len(changes))
        found = {row.value: _tally(row) for row in self.session.execute(stmt)}
        if changes:
            missing = [v for v in changes if v not in found]
            found.update(self._values(dimension, days, missing))
            for value, change in changes.items():
                merge(found.setdefault(value, Tally()), change)
        ranked = sorted(((v, t) for v, t in found.items() if t.visitors > 0), key=_rank)
        return ranked if limit is None else ranked[:limit]

    def values(self, dimension: str, days: DayRange, values: Collection[str]) -> dict[str, Tally]:
        """Return the summed figures of the given values of a dimension."""
        found = self._values(dimension, days, values)
        wanted = set(values)
        for value, change in self._tail_values(dimension, days).items():
            if value in wanted:
                merge(found.setdefault(value, Tally()), change)
        return {v: t for v, t in found.items() if t.visitors > 0}

    def _values(self, dimension: str, days: DayRange, values: Collection[str]) -> dict[str, Tally]:
        if not values:
            return {}
        stmt = (
            select(DailyRollup.value, *self._sums())
            .where(*self._where(dimension, days), DailyRollup.value.in_(list(values)))
            .group_by(DailyRollup.value)
        )
        return {row.value: _tally(row) for row in self.session.execute(stmt)}

    def by_hour(self, days: DayRange) -> dict[dt.datetime, HourTally]:
        """Return the figures of each hour (aware UTC start) that has any."""
        start, end = days.bounds()
        rows = self.session.execute(
            select(
                HourlyRollup.hour,
                HourlyRollup.visitors,
                HourlyRollup.visits,
                HourlyRollup.pageviews,
                HourlyRollup.events,
            ).where(
                HourlyRollup.site_id == self.site_id,
                HourlyRollup.hour >= start,
                HourlyRollup.hour < end,
            )
        )
        found: dict[dt.datetime, HourTally] = {}
        for row in rows:
            t = HourTally()
            t.visitors, t.visits, t.pageviews, t.events = (
                row.visitors,
                row.visits,
                row.pageviews,
                row.events,
            )
            found[clock.aware(row.hour)] = t
        for figures in self.tail(days).values():
            for hour, change in figures.hourly.items():
                at = hour_start(hour)
                if start <= at < end:
                    h = found.setdefault(at, HourTally())
                    h.visitors += change.visitors
                    h.visits += change.visits
                    h.pageviews += change.pageviews
                    h.events += change.events
        return found


class DayFiguresReader(ABC):
    """A reader answering from per-day :class:`DayFigures` (each computed once per reader) and,
    for the days some store keeps already summed (archived), from that store's rows.

    The sums, the ranking and the hour window live here, once, for every reader whose figures
    are recomputed per day: :class:`RawReader` (raw events in the relational store) and
    :class:`avowal.analytics.clickhouse.reader.ClickHouseReader`. Each answer names the one
    dimension it reads (:data:`HOURS` for the hours), so a reader that can compute some
    dimensions without the others does.
    """

    sample: Sample | None = None

    @abstractmethod
    def figures(
        self, days: Sequence[dt.date], wanted: Collection[str] | None = None
    ) -> dict[dt.date, DayFigures]:
        """Return the figures of each of ``days`` (empty figures for a day without events):
        whole, or at least those of the ``wanted`` dimensions (:data:`HOURS` for the hourly
        figures) when given; the others may be missing."""

    def split(self, days: DayRange) -> tuple[list[dt.date], list[dt.date]]:
        """Return the days of ``days`` with archived figures, and the others."""
        return [], list(days.each())

    def archived_totals(self, days: list[dt.date]) -> dict[dt.date, Tally]:
        """Return the archived totals of each of ``days`` that has any."""
        return {}

    def archived_sums(
        self, dimension: str, days: list[dt.date], values: list[str] | None
    ) -> dict[str, Tally]:
        """Return the archived figures of a dimension's values summed over ``days``."""
        return {}

    def by_day(self, days: DayRange) -> dict[dt.date, Tally]:
        """Return the totals of each day that has any."""
        archived, raw = self.split(days)
        found = self.archived_totals(archived) if archived else {}
        for day, figures in self.figures(raw, (TOTAL,)).items():
            t = figures.daily.get((TOTAL, ""))
            if t is not None:
                found[day] = t
        return found

    def _summed(
        self, dimension: str, days: DayRange, values: list[str] | None = None
    ) -> dict[str, Tally]:
        archived, raw = self.split(days)
        sums = self.archived_sums(dimension, archived, values) if archived else {}
        for figures in self.figures(raw, (dimension,)).values():
            for (dim, value), t in figures.daily.items():
                if dim == dimension:
                    merge(sums.setdefault(value, Tally()), t)
        return sums

    def breakdown(
        self, dimension: str, days: DayRange, limit: int | None
    ) -> list[tuple[str, Tally]]:
        """Return a dimension's values with their summed figures, most visitors first."""
        ranked = sorted(self._summed(dimension, days).items(), key=_rank)
        return ranked if limit is None else ranked[:limit]

    def values(self, dimension: str, days: DayRange, values: Collection[str]) -> dict[str, Tally]:
        """Return the summed figures of the given values of a dimension."""
        wanted = sorted(set(values))
        if not wanted:
            return {}
        return {v: t for v, t in self._summed(dimension, days, wanted).items() if v in values}

    def by_hour(self, days: DayRange) -> dict[dt.datetime, HourTally]:
        """Return the figures of each hour (aware UTC start) that has any."""
        start, end = days.bounds()
        found: dict[dt.datetime, HourTally] = {}
        for figures in self.figures(list(days.each()), (HOURS,)).values():
            for hour, t in figures.hourly.items():
                at = hour_start(hour)
                if start <= at < end:
                    found[at] = t
        return found


class RawReader(DayFiguresReader):
    """Figures of the visits the filters select: archived days from ``analytics_archived`` (one
    SQL aggregation), the others recomputed from raw events day by day
    (:mod:`avowal.analytics.archive`). Hours are always recomputed (short ranges only)."""

    basis = "raw_events"

    def __init__(
        self,
        session: Session,
        site_id: int,
        filters: tuple[VisitFilter, ...],
        *,
        visit_minutes: int,
        archived: bool = True,
        keep: bool = False,
        budget: float | None = None,
    ) -> None:
        self.session = session
        self.site_id = site_id
        self.filters = filters
        self.visit_minutes = visit_minutes
        self.archived = archived and bool(filters)
        # A request archives the final days it computes from raw events (archive.keep).
        self.keep = keep and self.archived
        self.ident = archive.filter_id(filters)
        self._days: dict[dt.date, DayFigures] = {}
        self._known: dict[dt.date, bool] = {}
        self.budget = budget if self.keep else None
        self._kept = 0
        self._started = 0.0

    def day(self, day: dt.date) -> DayFigures:
        """Return a day's filtered figures from raw events (computed once per request).

        A request's reader (``keep``) archives each final day it computes; past its time budget
        (``analytics_filter_budget_seconds``, once it has archived at least one day) it stops and
        refuses with :class:`FiltersPending`: each request, and each worker pass, prepares more
        of the range, and the figures are answered once every final day is archived.
        """
        found = self._days.get(day)
        if found is not None:
            return found
        final = archive.final_days(self.session, self.site_id, [day]) if self.keep else {}
        archivable = day in final and not self._known.get(day, False)
        if archivable and self.budget is not None and self._kept:
            spent = time.monotonic() - self._started
            if spent >= self.budget:
                raise FiltersPending(
                    f"the figures of these filters are being prepared from raw events: "
                    f"{self._kept} more days are ready; ask again in {PENDING_RETRY} seconds",
                    ready=self._kept,
                )
        if not self._days:
            self._started = time.monotonic()
        found = self._days[day] = compute_day(
            self.session,
            self.site_id,
            day,
            visit_minutes=self.visit_minutes,
            filters=self.filters,
        )
        if archivable:
            archive.keep(
                self.session,
                self.site_id,
                self.filters,
                day,
                found,
                seen=final[day],
                now=clock.now(),
            )
            self._kept += 1
        return found

    def split(self, days: DayRange) -> tuple[list[dt.date], list[dt.date]]:
        """Return the days of ``days`` with archived figures, and the others."""
        if not self.archived:
            return [], list(days.each())
        missing = [day for day in days.each() if day not in self._known]
        if missing:
            found = archive.archived_days(self.session, self.site_id, self.ident, missing)
            self._known.update((day, day in found) for day in missing)
        archived = [day for day in days.each() if self._known[day]]
        return archived, [day for day in days.each() if not self._known[day]]

    def _archived(self, dimension: str, days: list[dt.date], values: list[str] | None) -> Any:
        stmt = select(
            ArchivedRollup.value,
            *(func.sum(getattr(ArchivedRollup, n)).label(n) for n in FIGURES),
        ).where(
            ArchivedRollup.site_id == self.site_id,
            ArchivedRollup.filter_id == self.ident,
            ArchivedRollup.day.in_(days),
            ArchivedRollup.dimension == dimension,
        )
        if values is not None:
            stmt = stmt.where(ArchivedRollup.value.in_(values))
        return self.session.execute(stmt.group_by(ArchivedRollup.value))

    def figures(
        self, days: Sequence[dt.date], wanted: Collection[str] | None = None
    ) -> dict[dt.date, DayFigures]:
        """Return the filtered figures of each of ``days`` from raw events, whole whatever is
        ``wanted`` (see :meth:`day`)."""
        return {day: self.day(day) for day in days}

    def archived_totals(self, days: list[dt.date]) -> dict[dt.date, Tally]:
        """Return the archived totals of each of ``days`` that has any."""
        rows = self.session.execute(
            select(ArchivedRollup.day, *(getattr(ArchivedRollup, n) for n in FIGURES)).where(
                ArchivedRollup.site_id == self.site_id,
                ArchivedRollup.filter_id == self.ident,
                ArchivedRollup.day.in_(days),
                ArchivedRollup.dimension == TOTAL,
            )
        )
        return {row.day: _tally(row) for row in rows}

    def archived_sums(
        self, dimension: str, days: list[dt.date], values: list[str] | None
    ) -> dict[str, Tally]:
        """Return the archived figures of a dimension's values summed over ``days``."""
        return {row.value: _tally(row) for row in self._archived(dimension, days, values)}

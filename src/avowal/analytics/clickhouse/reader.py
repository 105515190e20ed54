"""Dashboard figures from the ClickHouse store: each day's rollup figures computed in ClickHouse
from raw events, filtered or not.

ClickHouse aggregates a site's raw events fast enough to need no rollup tables: a reader asks
one statement (:mod:`avowal.analytics.clickhouse.sql`) for the :class:`DayFigures` of every day
of a range it has not seen yet, and keeps them, so a dashboard request with a dozen tables and
the time series runs it once per range (twice when it compares with the previous period). The
figures are defined exactly as :func:`avowal.analytics.rollup.compute_day` defines them;
:class:`avowal.analytics.readers.DayFiguresReader` sums and ranks them, as for raw events in the
relational store.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from avowal.analytics.clickhouse import schema, sql
from avowal.analytics.dashboard import REALTIME_MINUTES
from avowal.analytics.filters import VisitFilter
from avowal.analytics.readers import DayFiguresReader
from avowal.analytics.rollup import FIGURES, DayFigures
from avowal.analytics.visits import PAGEVIEW, micros

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client


class ClickHouseReader(DayFiguresReader):
    """Figures of the visits the filters select (all visits without filters), per day computed
    in ClickHouse from raw events, once per reader."""

    basis = "clickhouse"

    def __init__(
        self,
        client: Client,
        site_id: int,
        filters: tuple[VisitFilter, ...] = (),
        *,
        visit_minutes: int,
    ) -> None:
        self.client = client
        self.site_id = site_id
        self.filters = filters
        self.visit_minutes = visit_minutes
        self._days: dict[dt.date, DayFigures] = {}

    def figures(self, days: Sequence[dt.date]) -> dict[dt.date, DayFigures]:
        """Return the figures of each of ``days``; the days not computed yet are computed by
        one statement (from the first to the last of them)."""
        missing = [day for day in days if day not in self._days]
        if missing:
            first, last = min(missing), max(missing)
            found = self._compute(first, last)
            day = first
            while day <= last:
                self._days.setdefault(day, found.get(day, DayFigures()))
                day += dt.timedelta(days=1)
        return {day: self._days[day] for day in days}

    def _compute(self, first: dt.date, last: dt.date) -> dict[dt.date, DayFigures]:
        statement, parameters = sql.figures_query(
            self.site_id, first, last, self.filters, visit_minutes=self.visit_minutes
        )
        found: dict[dt.date, DayFigures] = {}
        for day, dimension, value, *figures in self.client.query(
            statement, parameters=parameters
        ).result_rows:
            into = found.get(day)
            if into is None:
                into = found[day] = DayFigures()
            if dimension == sql.HOUR:
                h = into.hourly[int(value)]
                # The entries' columns: visitors, visits, pageviews (...), events.
                h.visitors, h.visits, h.pageviews, h.events = (
                    figures[0],
                    figures[1],
                    figures[2],
                    figures[5],
                )
                continue
            t = into.daily[(sql.DIMENSIONS[dimension], value)]
            for name, number in zip(FIGURES, figures, strict=True):
                setattr(t, name, int(number))
        return found


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

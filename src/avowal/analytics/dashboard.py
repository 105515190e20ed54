"""Dashboard figures of a site over a range of UTC days, as JSON-ready dictionaries.

Figures come from a :mod:`avowal.analytics.readers` reader: the rollups, or raw events when the
request is filtered. Definitions (see :mod:`avowal.analytics.rollup` for visits and bounces):

- unique visitors of a range: the sum of each day's unique visitors (daily hashes);
- bounce rate: bounced visits / visits, in percent (1 decimal); visit duration: the average
  seconds per visit (rounded); views per visit: page views / visits (2 decimals);
- comparison: the same figures for the previous period of equal length, and the change: in
  percent of the previous value for counts and averages (``None`` when it was 0), in percentage
  points for the bounce rate;
- pages: time on page is the average engaged seconds of the visits that reported engagement
  (Plausible's ``engagement`` events), or, for pages without any, the seconds to the next page
  view; scroll depth is the average of those visits' deepest scroll, in percent;
- goals (``event``): a goal with revenue lists its sum per currency (decimal strings);
- time series: one point per day for ranges over two days, per UTC hour otherwise (hourly points
  have no bounce rate or duration: visits are rolled up by day);
- realtime: distinct visitors with an event in the last 30 minutes, from raw events. Visitor
  hashes change at 00:00 UTC, so someone active across midnight counts twice in that window.
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import Iterable, Sequence
from decimal import Decimal
from typing import Any, NamedTuple

from sqlalchemy import case, func, select
from sqlalchemy.orm import Session

from avowal.analytics import archive, dimensions, sampling
from avowal.analytics.clickhouse import reader as clickhouse_reader
from avowal.analytics.clickhouse.events import ClickHouseEvents
from avowal.analytics.models import Event
from avowal.analytics.query import REALTIME_MINUTES, DayRange, Query, UnknownDimension
from avowal.analytics.readers import RawReader, Reader, RollupReader, merge
from avowal.analytics.rollup import REVENUE, Tally
from avowal.analytics.visits import MICROS, PAGEVIEW
from avowal.lib import clock

# Every dimension of the registry has a table (revenue rows are read with their goals).
BREAKDOWNS = dimensions.NAMES
TABLES = (*BREAKDOWNS, "timeseries")
# The columns of each shape of row, in the CSV export's order.
COLUMNS = {
    dimensions.PAGE_ROWS: (
        "visitors",
        "visits",
        "pageviews",
        "bounce_rate",
        "time_on_page",
        "scroll_depth",
    ),
    dimensions.ENTRY_ROWS: ("visitors", "entrances", "bounce_rate", "visit_duration"),
    dimensions.EXIT_ROWS: ("visitors", "exits", "exit_rate"),
    dimensions.VISIT_ROWS: ("visitors", "visits", "pageviews", "bounce_rate", "visit_duration"),
    dimensions.EVENT_ROWS: ("visitors", "visits", "events", "conversion_rate"),
}
DEFAULT_LIMIT = 10
MAX_LIMIT = 1000


def reader(
    session: Session,
    query: Query,
    *,
    visit_minutes: int,
    budget: float | None = None,
    clickhouse: ClickHouseEvents | None = None,
    sample_visits: int = 0,
) -> Reader:
    """Return the reader of a request: rollups, or raw events when it is filtered (computing
    raw days for at most ``budget`` seconds, see :meth:`RawReader.day`).

    With ``clickhouse``, figures come from ClickHouse's raw events, except, unfiltered, the
    days that are over, read from the rollups the worker stored from ClickHouse. Filtered, when
    the range has more than ``sample_visits`` visits (0: never), they are estimated from a
    sample of the visitors (:mod:`avowal.analytics.sampling`).
    """
    if clickhouse is not None:
        sample = None
        if query.filters and sample_visits > 0:
            # The range's visits, from the rollups: what a filter would otherwise read through.
            days = RollupReader(session, query.site_id).by_day(query.range)
            sample = sampling.choose(sum(t.visits for t in days.values()), sample_visits)
        return clickhouse_reader.ClickHouseReader(
            clickhouse.client(),
            query.site_id,
            query.filters,
            visit_minutes=visit_minutes,
            history=session,
            sample=sample,
        )
    if query.filters:
        # Noted, so that the worker archives these filters' days (avowal.analytics.archive).
        archive.note_use_in_read(session, query.site_id, query.filters, clock.now())
        return RawReader(
            session,
            query.site_id,
            query.filters,
            visit_minutes=visit_minutes,
            keep=True,
            budget=budget,
        )
    return RollupReader(session, query.site_id, visit_minutes=visit_minutes)


def _pct(part: int, whole: int, digits: int = 1) -> float | None:
    return round(100 * part / whole, digits) if whole else None


def _avg(total: int, count: int) -> int | None:
    return round(total / count) if count > 0 else None


def figures(t: Tally) -> dict[str, Any]:
    """Return the headline figures of a tally."""
    return {
        "visitors": t.visitors,
        "visits": t.visits,
        "pageviews": t.pageviews,
        "events": t.events,
        "bounce_rate": _pct(t.bounces, t.visits),
        "visit_duration": _avg(t.duration_s, t.visits),
        "views_per_visit": round(t.pageviews / t.visits, 2) if t.visits else None,
    }


def _change(now: Any, before: Any, *, points: bool = False) -> float | None:
    if now is None or before is None:
        return None
    if points:
        return round(float(now - before), 1)
    if before == 0:
        return None
    return round(100 * float(now - before) / float(before), 1)


def change(current: dict[str, Any], previous: dict[str, Any]) -> dict[str, float | None]:
    """Return each figure's change: percent of the previous value, points for the bounce rate."""
    return {
        name: _change(current[name], previous[name], points=name == "bounce_rate")
        for name in current
    }


def totals(source: Reader, days: DayRange) -> Tally:
    """Return the summed totals of a range."""
    total = Tally()
    for t in source.by_day(days).values():
        merge(total, t)
    return total


def _period(days: DayRange) -> dict[str, str]:
    return {"from": days.start.isoformat(), "to": days.end.isoformat()}


def _head(query: Query, source: Reader) -> dict[str, Any]:
    return {
        "site": query.domain,
        **_period(query.range),
        "days": query.range.days,
        "filters": query.filter_texts,
        "basis": source.basis,
        "sample_percent": None if source.sample is None else source.sample.percent,
    }


def summary(source: Reader, query: Query) -> dict[str, Any]:
    """Return the range's totals, and with ``compare`` the previous period's and the change."""
    current = figures(totals(source, query.range))
    answer = {**_head(query, source), "totals": current, "previous": None, "change": None}
    if query.compare:
        before = query.range.previous()
        previous = figures(totals(source, before))
        answer["previous"] = {**_period(before), "totals": previous}
        answer["change"] = change(current, previous)
    return answer


def _visit_row(value: str, t: Tally) -> dict[str, Any]:
    return {
        "value": value,
        "visitors": t.visitors,
        "visits": t.visits,
        "pageviews": t.pageviews,
        "bounce_rate": _pct(t.bounces, t.visits),
        "visit_duration": _avg(t.duration_s, t.visits),
    }


def breakdown_rows(
    source: Reader, dimension: str, days: DayRange, limit: int | None
) -> list[dict[str, Any]]:
    """Return the rows of a dimension's table, most visitors first."""
    found = dimensions.get(dimension)
    if found is None:
        raise UnknownDimension(
            f"no dimension '{dimension[:40]}'", dimension=dimension[:40], known=list(BREAKDOWNS)
        )
    shape = found.rows
    ranked = source.breakdown(dimension, days, limit)
    values = [value for value, _ in ranked]
    if shape == dimensions.PAGE_ROWS:
        exits = source.values("exit_page", days, values)
        rows = []
        for value, t in ranked:
            left = exits[value].visits if value in exits else 0
            row = {
                "value": value,
                "visitors": t.visitors,
                "visits": t.visits,
                "pageviews": t.pageviews,
                "bounce_rate": _pct(t.bounces, t.visits),
                "time_on_page": (
                    round(t.engaged_ms / 1000 / t.scrolls)
                    if t.scrolls
                    else _avg(t.duration_s, t.pageviews - left)
                ),
            }
            if t.scrolls:
                row["scroll_depth"] = round(t.scroll_sum / t.scrolls)
            rows.append(row)
        return rows
    if shape == dimensions.ENTRY_ROWS:
        return [
            {
                "value": value,
                "visitors": t.visitors,
                "entrances": t.visits,
                "bounce_rate": _pct(t.bounces, t.visits),
                "visit_duration": _avg(t.duration_s, t.visits),
            }
            for value, t in ranked
        ]
    if shape == dimensions.EXIT_ROWS:
        views = source.values("page", days, values)
        return [
            {
                "value": value,
                "visitors": t.visitors,
                "exits": t.visits,
                "exit_rate": _pct(t.visits, views[value].pageviews if value in views else 0),
            }
            for value, t in ranked
        ]
    if shape == dimensions.EVENT_ROWS:
        everyone = totals(source, days).visitors
        rows = [
            {
                "value": value,
                "visitors": t.visitors,
                "visits": t.visits,
                "events": t.events,
                "conversion_rate": _pct(t.visitors, everyone),
            }
            for value, t in ranked
        ]
        if found.kind == dimensions.EVENT:
            revenue = revenues(source, days)
            for row in rows:
                if row["value"] in revenue:
                    row["revenue"] = revenue[row["value"]]
        return rows
    return [_visit_row(value, t) for value, t in ranked]


class Revenue(NamedTuple):
    """A goal's revenue in one currency over a range."""

    currency: str
    micros: int  # the sum, in millionths
    events: int  # the goal's events with a revenue in this currency

    @property
    def amount(self) -> str:
        """Return the sum as a decimal string (``42.5``)."""
        return format((Decimal(self.micros) / MICROS).normalize(), "f")


def revenue_sums(source: Reader, days: DayRange) -> dict[str, list[Revenue]]:
    """Return each goal's revenue of the range, per currency (in currency order)."""
    found: dict[str, list[Revenue]] = {}
    for value, t in sorted(source.breakdown(REVENUE, days, None)):
        currency, _, goal = value.partition(" ")
        found.setdefault(goal, []).append(Revenue(currency, t.revenue_micros, t.events))
    return found


def revenues(source: Reader, days: DayRange) -> dict[str, list[dict[str, str]]]:
    """Return each goal's revenue of the range: its sum per currency, as decimal strings."""
    return {
        goal: [{"currency": r.currency, "amount": r.amount} for r in sums]
        for goal, sums in revenue_sums(source, days).items()
    }


def breakdown(
    source: Reader, query: Query, dimension: str, limit: int | None = DEFAULT_LIMIT
) -> dict[str, Any]:
    """Return one dimension's table over the range."""
    rows = breakdown_rows(source, dimension, query.range, limit)
    return {**_head(query, source), "dimension": dimension, "rows": rows}


def _points(source: Reader, days: DayRange) -> tuple[str, list[dict[str, Any]]]:
    if days.days > 2:
        by_day = source.by_day(days)
        points = []
        for day in days.each():
            t = by_day.get(day) or Tally()
            point = {"t": day.isoformat(), **figures(t)}
            del point["views_per_visit"]
            points.append(point)
        return "day", points
    by_hour = source.by_hour(days)
    start, _ = days.bounds()
    points = []
    for i in range(24 * days.days):
        at = start + dt.timedelta(hours=i)
        h = by_hour.get(at)
        points.append(
            {
                "t": at.strftime("%Y-%m-%dT%H:00:00Z"),
                "visitors": h.visitors if h else 0,
                "visits": h.visits if h else 0,
                "pageviews": h.pageviews if h else 0,
                "events": h.events if h else 0,
                "bounce_rate": None,
                "visit_duration": None,
            }
        )
    return "hour", points


def timeseries(source: Reader, query: Query) -> dict[str, Any]:
    """Return the range's points (daily over two days, else hourly), and the previous period's."""
    interval, points = _points(source, query.range)
    answer = {**_head(query, source), "interval": interval, "points": points, "previous": None}
    if query.compare:
        answer["previous"] = _points(source, query.range.previous())[1]
    return answer


def realtime(
    session: Session,
    site_id: int,
    now: dt.datetime,
    clickhouse: ClickHouseEvents | None = None,
) -> dict[str, Any]:
    """Return the visitors and page views of the last 30 minutes, and their top pages."""
    if clickhouse is not None:
        return clickhouse_reader.realtime(clickhouse.client(), site_id, now)
    since = now - dt.timedelta(minutes=REALTIME_MINUTES)
    window = (Event.site_id == site_id, Event.ts >= since, Event.ts <= now)
    row = session.execute(
        select(
            func.count(func.distinct(Event.visitor)).label("visitors"),
            func.coalesce(func.sum(case((Event.name == PAGEVIEW, 1), else_=0)), 0).label("views"),
        ).where(*window)
    ).one()
    visitors = func.count(func.distinct(Event.visitor))
    pages = session.execute(
        select(Event.path, visitors.label("visitors"))
        .where(*window, Event.name == PAGEVIEW)
        .group_by(Event.path)
        .order_by(visitors.desc(), Event.path)
        .limit(5)
    )
    return {
        "minutes": REALTIME_MINUTES,
        "since": since.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "visitors": int(row.visitors),
        "pageviews": int(row.views),
        "pages": [{"value": p.path, "visitors": int(p.visitors)} for p in pages],
    }


# A spreadsheet runs a cell starting with one of these as a formula (OWASP "CSV injection"), and
# paths and referrers are chosen by whoever visits the site.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: Any) -> Any:
    if isinstance(value, str) and value.startswith(_FORMULA):
        return "'" + value
    return "" if value is None else value


def to_csv(rows: Sequence[dict[str, Any]], columns: Iterable[str] | None = None) -> str:
    """Return rows as CSV text with a header line; formula-like text cells are defused."""
    names = list(columns) if columns is not None else list(rows[0]) if rows else ["value"]
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\r\n")
    writer.writerow(names)
    for row in rows:
        writer.writerow([_cell(row.get(name)) for name in names])
    return out.getvalue()


def export(source: Reader, query: Query, table: str) -> str:
    """Return a dimension's whole table, or the time series, of the range as CSV."""
    if table == "timeseries":
        _, points = _points(source, query.range)
        return to_csv(points)
    rows = breakdown_rows(source, table, query.range, None)
    dimension = dimensions.BY_NAME[table]
    columns = ["value", *COLUMNS[dimension.rows]]
    if dimension.kind == dimensions.EVENT:
        columns.append("revenue")
        for row in rows:
            row["revenue"] = money_text(row.get("revenue"))
    return to_csv(rows, columns)


def money_text(sums: list[dict[str, Any]] | None) -> str | None:
    """Return a goal's revenue as text: ``EUR 42.5; USD 7.25`` (``None`` without any)."""
    if not sums:
        return None
    return "; ".join(f"{m['currency']} {m['amount']}" for m in sums)

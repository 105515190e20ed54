"""The Stats API's figures, computed by the dashboard's own functions over its readers.

Nothing here defines a figure: totals, tables and rates are :mod:`avowal.analytics.dashboard`'s
(:func:`~avowal.analytics.dashboard.figures`, :func:`~avowal.analytics.dashboard.totals`,
:func:`~avowal.analytics.dashboard.breakdown_rows`, :func:`~avowal.analytics.dashboard.change`),
so the API and the dashboard answer the same numbers for the same range and filters. Three
things are added: Plausible's ``events`` (page views + custom events, where the dashboard counts
custom events only), buckets of weeks and months (the sum of their days, like any range), and a
goal's revenue as Plausible answers it (``total_revenue``, ``average_revenue``: see
:func:`money`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

from avowal.analytics import dashboard, dimensions
from avowal.analytics.query import DayRange
from avowal.analytics.readers import Reader, merge
from avowal.analytics.rollup import HourTally, Tally
from avowal.analytics.stats_query import Property as Prop
from avowal.analytics.stats_query import StatsRefused

Figures = dict[str, Any]
Row = tuple[str, Figures]
INTERVALS = ("hour", "day", "week", "month")


def visit_figures(t: Tally) -> Figures:
    """Return the dashboard's figures of a tally, with Plausible's ``events``."""
    return {**dashboard.figures(t), "events": t.pageviews + t.events}


def _hour_figures(h: HourTally | None) -> Figures:
    t = Tally()
    if h is not None:
        t.visitors, t.visits, t.pageviews, t.events = h.visitors, h.visits, h.pageviews, h.events
    # Hours are rolled up without bounces and durations: the dashboard shows none either.
    return {**visit_figures(t), "bounce_rate": None, "visit_duration": None}


def aggregate(source: Reader, days: DayRange) -> Figures:
    """Return the totals of a range."""
    return visit_figures(dashboard.totals(source, days))


def compared(source: Reader, days: DayRange) -> tuple[Figures, Figures, dict[str, Any]]:
    """Return the range's totals, the previous period's and the dashboard's change."""
    now, before = aggregate(source, days), aggregate(source, days.previous())
    return now, before, dashboard.change(now, before)


# Currency symbols of the usual currencies (others are written with their code, as "CHF 12.50").
SYMBOLS = {"EUR": "\u20ac", "USD": "$", "GBP": "\u00a3", "JPY": "\u00a5"}
NO_DECIMALS = ("JPY", "KRW")


def _money_text(currency: str, value: float, *, short: bool) -> str:
    sign = SYMBOLS.get(currency, currency + " ")
    if not short:
        digits = 0 if currency in NO_DECIMALS else 2
        return f"{sign}{value:,.{digits}f}"
    for limit, suffix in ((1e9, "B"), (1e6, "M"), (1e3, "K")):
        if abs(value) >= limit:
            return f"{sign}{value / limit:.1f}".rstrip("0").rstrip(".") + suffix
    return f"{sign}{value:.1f}".rstrip("0").rstrip(".")


def money(sums: list[dashboard.Revenue] | None, *, average: bool) -> dict[str, Any] | None:
    """Return a goal's revenue as Plausible's Stats API does, or ``None``.

    Plausible's shape is ``{"short": "€12.5", "long": "€12.50", "value": 12.5, "currency":
    "EUR"}``; ``average`` divides by the goal's events with a revenue. Plausible converts every
    revenue to the goal's one currency; avowal never converts, so a goal with revenue in several
    currencies has ``None`` here (the dashboard lists each sum), as has one without revenue.
    """
    if not sums or len(sums) != 1:
        return None
    found = sums[0]
    value = found.micros / 1_000_000
    if average:
        value = round(value / found.events, 2) if found.events else 0.0
    return {
        "short": _money_text(found.currency, value, short=True),
        "long": _money_text(found.currency, value, short=False),
        "value": value,
        "currency": found.currency,
    }


def table(source: Reader, prop: Prop, days: DayRange) -> list[Row]:
    """Return every value of a property with its figures, in the dashboard's order."""
    dimension = prop.dimension
    if dimension.kind == dimensions.VISIT:
        # Entry and exit pages too: Plausible gives them the figures of their visits.
        ranked = source.breakdown(dimension.name, days, None)
        return [(value, visit_figures(t)) for value, t in ranked]
    rows = dashboard.breakdown_rows(source, dimension.name, days, None)
    found = [(str(r.pop("value")), r) for r in rows]
    if dimension.kind == dimensions.EVENT:
        sums = dashboard.revenue_sums(source, days)
        for value, r in found:
            r["total_revenue"] = money(sums.get(value), average=False)
            r["average_revenue"] = money(sums.get(value), average=True)
    if prop.prop is None:
        return found
    # Custom properties are rolled up as "key=value" of the events that carried them.
    head = prop.prop + "="
    return [(v[len(head) :], r) for v, r in found if v.startswith(head)]


def _month_start(day: dt.date) -> dt.date:
    return day.replace(day=1)


def _next_month(day: dt.date) -> dt.date:
    return (day.replace(day=28) + dt.timedelta(days=4)).replace(day=1)


def buckets(days: DayRange, interval: str) -> Iterator[tuple[str, DayRange]]:
    """Yield each day, week (from Monday) or month of a range: its label and its days within."""
    if interval == "day":
        for day in days.each():
            yield day.isoformat(), DayRange(day, day)
        return
    start = days.start
    while start <= days.end:
        if interval == "week":
            label = start - dt.timedelta(days=start.weekday())
            after = label + dt.timedelta(days=7)
        else:
            label = _month_start(start)
            after = _next_month(start)
        end = min(after - dt.timedelta(days=1), days.end)
        yield label.isoformat(), DayRange(start, end)
        start = after


def hour_labels(days: DayRange) -> list[str]:
    """Return the label of every UTC hour of a range (``YYYY-MM-DD HH:00:00``)."""
    start, _ = days.bounds()
    return [
        (start + dt.timedelta(hours=i)).strftime("%Y-%m-%d %H:00:00") for i in range(24 * days.days)
    ]


def labels(days: DayRange, interval: str) -> list[str]:
    """Return the label of every bucket of a range."""
    if interval == "hour":
        return hour_labels(days)
    return [label for label, _ in buckets(days, interval)]


def series(source: Reader, days: DayRange, interval: str) -> list[Row]:
    """Return every bucket of a range with its figures, oldest first (empty ones included)."""
    if interval == "hour":
        by_hour = source.by_hour(days)
        start, _ = days.bounds()
        return [
            (label, _hour_figures(by_hour.get(start + dt.timedelta(hours=i))))
            for i, label in enumerate(hour_labels(days))
        ]
    by_day = source.by_day(days)
    rows = []
    for label, span in buckets(days, interval):
        total = Tally()
        for day in span.each():
            if day in by_day:
                merge(total, by_day[day])
        rows.append((label, visit_figures(total)))
    return rows


def series_table(
    source: Reader, prop: Prop, days: DayRange, interval: str
) -> list[tuple[tuple[str, str], Figures]]:
    """Return each bucket's table of a property: rows labelled ``(bucket, value)``."""
    if interval == "hour":
        raise StatsRefused(
            "A breakdown per hour is not supported: avowal rolls up values per day.",
            field="dimensions",
        )
    return [
        ((label, value), figures)
        for label, span in buckets(days, interval)
        for value, figures in table(source, prop, span)
    ]


def default_interval(days: DayRange) -> str:
    """Return Plausible's interval for a range: hours of one day, days up to 40, else months."""
    if days.days == 1:
        return "hour"
    return "day" if days.days <= 40 else "month"

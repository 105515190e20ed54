"""Plausible's periods (v1 ``period`` and ``date``) and date ranges (v2), as UTC days.

A period becomes a :class:`~avowal.analytics.query.DayRange` of at most ``query.MAX_DAYS``, as
Plausible computes it for a site in UTC: v1 ``7d`` ends on ``date``, ``30d`` spans 31 days,
``6mo`` and ``12mo`` end with ``date``'s month; v2 ``Nd`` and ``Nmo`` end before today.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

from avowal.analytics import query
from avowal.analytics.query import DayRange
from avowal.analytics.stats_query import DOCS, StatsRefused

V1_PERIODS = ("day", "7d", "30d", "month", "6mo", "12mo", "custom")
EARLIEST = dt.date(1970, 1, 1)
LATEST = dt.date(9000, 12, 31)


def _month_start(day: dt.date, back: int = 0) -> dt.date:
    months = day.year * 12 + day.month - 1 - back
    return dt.date(months // 12, months % 12 + 1, 1)


def _month_end(day: dt.date) -> dt.date:
    return _month_start(day, -1) - dt.timedelta(days=1)


def _iso(value: str, message: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value.strip())
    except ValueError:
        raise StatsRefused(message, field="date") from None


def _bounded(first: dt.date, last: dt.date) -> DayRange:
    if first > last:
        raise StatsRefused(f"The range starts ({first}) after it ends ({last}).", field="date")
    days = DayRange(first, last)
    if days.days > query.MAX_DAYS:
        raise StatsRefused(
            f"The range spans {days.days} days; avowal answers at most {query.MAX_DAYS}.",
            field="date",
        )
    return days


def v1_range(period: str | None, date: str | None, today: dt.date) -> DayRange:
    """Return the days of a v1 ``period`` relative to ``date`` (default ``30d``, today)."""
    return _within(lambda: _v1_range(period, date, today))


def v2_range(date_range: str | list[str], today: dt.date) -> DayRange:
    """Return the days of a v2 ``date_range``: a period relative to today or two dates."""
    return _within(lambda: _v2_range(date_range, today))


def _within(compute: Callable[[], DayRange]) -> DayRange:
    # Dates near year 1 or 9999 have no previous period or month end: refuse, never fail.
    try:
        days = compute()
        days.previous()
    except (ValueError, OverflowError):
        days = None
    if days is None or not EARLIEST <= days.start <= days.end <= LATEST:
        raise StatsRefused(f"The dates must lie between {EARLIEST} and {LATEST}.", field="date")
    return days


def _v1_range(period: str | None, date: str | None, today: dt.date) -> DayRange:
    period = period or "30d"
    if period not in V1_PERIODS:
        raise StatsRefused(
            f"Error parsing `period` parameter: invalid period `{period}`. Please find "
            f"accepted values in our docs: {DOCS}#time-periods",
            field="period",
        )
    if period == "custom":
        if not date:
            raise StatsRefused(
                "The `date` parameter is required when using a custom period. See "
                f"{DOCS}#time-periods",
                field="date",
            )
        bad = (
            "Invalid format for `date` parameter. When using a custom period, please include "
            f"two ISO-8601 formatted dates joined by a comma. See {DOCS}#time-periods"
        )
        parts = date.split(",")
        if len(parts) != 2:
            raise StatsRefused(bad, field="date")
        return _bounded(_iso(parts[0], bad), _iso(parts[1], bad))
    day = today
    if date and date != "today":
        day = _iso(
            date,
            "Error parsing `date` parameter: invalid_format. Please specify a valid date in "
            "ISO-8601 format.",
        )
    if period == "day":
        return DayRange(day, day)
    if period == "7d":
        return DayRange(day - dt.timedelta(days=6), day)
    if period == "30d":
        return DayRange(day - dt.timedelta(days=30), day)  # Plausible's 30d is 31 days
    if period == "month":
        return DayRange(_month_start(day), _month_end(day))
    back = 5 if period == "6mo" else 11
    return DayRange(_month_start(day, back), _month_end(day))


def _v2_range(date_range: str | list[str], today: dt.date) -> DayRange:
    if isinstance(date_range, list):
        bad = f"Invalid date_range '{date_range!r}'."[:200]
        if len(date_range) != 2 or any(len(d) != 10 for d in date_range):
            raise StatsRefused(
                bad + " avowal answers whole UTC days: two dates as YYYY-MM-DD.",
                field="date_range",
            )
        return _bounded(_iso(date_range[0], bad), _iso(date_range[1], bad))
    if date_range == "day":
        return DayRange(today, today)
    if date_range == "month":
        return DayRange(_month_start(today), _month_end(today))
    if date_range == "year":
        return DayRange(dt.date(today.year, 1, 1), dt.date(today.year, 12, 31))
    number, unit = date_range[:-1], date_range[-1:]
    if date_range.endswith("mo"):
        number, unit = date_range[:-2], "mo"
    if number.isdigit() and 0 < int(number) <= query.MAX_DAYS and unit in ("d", "mo"):
        n = int(number)
        if unit == "d":  # the n days before today
            return _bounded(today - dt.timedelta(days=n), today - dt.timedelta(days=1))
        last_month = _month_start(today, 1)
        return _bounded(_month_start(today, n), _month_end(last_month))
    raise StatsRefused(
        f'#/date_range: Invalid date range "{date_range[:40]}"'
        + (" (avowal answers whole UTC days)" if date_range in ("24h", "realtime", "all") else ""),
        field="date_range",
    )

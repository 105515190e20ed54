"""The Stats API's answers: v1's aggregate, timeseries and breakdown, and v2's query.

Requests are parsed by :mod:`avowal.analytics.stats_query` and computed by
:mod:`avowal.analytics.stats_figures` over the reader the dashboard would use for the same range
and filters (:func:`avowal.analytics.dashboard.reader`). Answers are Plausible's shapes.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from sqlalchemy.orm import Session

from avowal.analytics import dashboard, query
from avowal.analytics import stats_figures as figures
from avowal.analytics import stats_periods as periods
from avowal.analytics import stats_query as sq
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.filters import VisitFilter
from avowal.analytics.query import DayRange
from avowal.analytics.readers import Reader
from avowal.analytics.stats_query import StatsRefused
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings

V1_LIMIT = 100
V1_MAX_LIMIT = 1000
V2_LIMIT = 10_000
TIME_DIMENSIONS = {
    "time": None,
    "time:hour": "hour",
    "time:day": "day",
    "time:week": "week",
    "time:month": "month",
}


@dataclass(frozen=True)
class Site:
    """A counted site, resolved before anything else is read (an unknown one is 404)."""

    id: int
    domain: str


def site(session: Session, domain: str | None) -> Site:
    """Return the site named by ``site_id``; refuse a missing one (400) or an unknown one (404)."""
    if not domain:
        raise StatsRefused(
            "Missing site ID. Please provide the required site_id parameter with your request.",
            field="site_id",
        )
    site_id, name = query.site(session, domain)
    return Site(site_id, name)


@dataclass(frozen=True)
class Context:
    """What every figure request needs: the session, the server's settings and the policy."""

    session: Session
    settings: Settings
    policy: LoadedPolicy

    @property
    def today(self) -> dt.date:
        """Return today, UTC."""
        return clock.now().date()

    def reader(
        self, at: Site, days: DayRange, filters: tuple[VisitFilter, ...], compare: bool = False
    ) -> Reader:
        """Return the dashboard's reader for this range and these filters (retention holds)."""
        parsed = query.Query(at.id, at.domain, days, compare, filters)
        try:
            query.check_retention(
                parsed, self.today, self.policy.policy.analytics.raw_retention_days
            )
        except query.InvalidQuery as exc:
            raise StatsRefused(exc.message, field="filters") from None
        return dashboard.reader(
            self.session,
            parsed,
            visit_minutes=self.settings.analytics_visit_minutes,
            budget=self.settings.analytics_filter_budget_seconds,
            clickhouse=clickhouse_events.of(self.settings),
        )


def _metrics(text: str | None) -> list[str]:
    return (text or "visitors").split(",")


def aggregate(
    ctx: Context,
    at: Site,
    *,
    period: str | None,
    date: str | None,
    metrics: str | None,
    filters: str | None,
    compare: str | None,
) -> dict[str, Any]:
    """Answer `/api/v1/stats/aggregate`: ``{"results": {metric: {"value": ...}}}``."""
    days = periods.v1_range(period, date, ctx.today)
    parsed_filters = sq.v1_filters(filters)
    names = sq.check_metrics(_metrics(metrics), None, v2=False)
    if compare not in (None, "", "previous_period"):
        raise StatsRefused(
            f"`compare` is not supported with '{compare[:40]}': avowal compares with "
            "`previous_period` only.",
            field="compare",
        )
    source = ctx.reader(at, days, parsed_filters, compare=bool(compare))
    if not compare:
        now = figures.aggregate(source, days)
        return {"results": {name: {"value": now[name]} for name in names}}
    now, before, change = figures.compared(source, days)
    return {
        "results": {
            name: {"value": now[name], "comparison_value": before[name], "change": change[name]}
            for name in names
        }
    }


def timeseries(
    ctx: Context,
    at: Site,
    *,
    period: str | None,
    date: str | None,
    metrics: str | None,
    filters: str | None,
    interval: str | None,
) -> dict[str, Any]:
    """Answer `/api/v1/stats/timeseries`: one row per day (or hour, or month), empty included."""
    days = periods.v1_range(period, date, ctx.today)
    if interval == "date":
        interval = "day"
    if interval not in (None, "day", "month"):
        raise StatsRefused(
            f"Error parsing `interval` parameter: invalid interval `{interval[:40]}`. Valid "
            "intervals are `day`, `month`",
            field="interval",
        )
    if interval is None:
        period = period or "30d"
        interval = "hour" if period == "day" else "month" if period in ("6mo", "12mo") else "day"
    names = sq.check_metrics(_metrics(metrics), None, v2=False)
    _hourly(names, interval)
    source = ctx.reader(at, days, sq.v1_filters(filters))
    return {
        "results": [
            {"date": label, **{name: figs[name] for name in names}}
            for label, figs in figures.series(source, days, interval)
        ]
    }


def _hourly(names: tuple[str, ...], interval: str | None) -> None:
    if interval != "hour":
        return
    for name in names:
        if name not in sq.HOUR_METRICS:
            raise StatsRefused(
                f"Metric `{name}` is not supported per hour: avowal rolls up visits' bounces "
                "and durations per day (ask for interval `day`).",
                field="metrics",
            )


def breakdown(
    ctx: Context,
    at: Site,
    *,
    period: str | None,
    date: str | None,
    metrics: str | None,
    filters: str | None,
    prop_name: str | None,
    limit: str | None,
    page: str | None,
) -> dict[str, Any]:
    """Answer `/api/v1/stats/breakdown`: ``{"results": [{property: value, metric: ...}]}``."""
    days = periods.v1_range(period, date, ctx.today)
    if not prop_name:
        raise StatsRefused(
            "The `property` parameter is required. Please provide at least one property to "
            "show a breakdown by.",
            field="property",
        )
    if not sq.known_property(prop_name):
        raise StatsRefused(
            f"Invalid property '{prop_name[:60]}'. Please provide a valid property for the "
            f"breakdown endpoint: {sq.DOCS}#properties",
            field="property",
        )
    prop = sq.resolve_property(prop_name)
    parsed_filters = sq.v1_filters(filters)
    names = sq.check_metrics(_metrics(metrics), prop, v2=False)
    if "views_per_visit" in names:
        raise StatsRefused(
            "Metric `views_per_visit` is not supported in breakdown queries.", field="metrics"
        )
    size = _positive(
        limit,
        V1_LIMIT,
        f"Please provide limit as a number between 1 and {V1_MAX_LIMIT}.",
        V1_MAX_LIMIT,
    )
    number = _positive(page, 1, "Please provide page as a positive number.", None)
    rows = figures.table(ctx.reader(at, days, parsed_filters), prop, days)
    first = next((n for n in names if n != "time_on_page"), "visitors")
    rows = _sorted(rows, [(lambda r: rankable(r[1].get(first)), True)])
    chosen = rows[(number - 1) * size : number * size]
    return {
        "results": [
            # A page without engagement data has no scroll depth: None, as Plausible's null.
            {prop.key: value, **{name: figs.get(name) for name in names}}
            for value, figs in chosen
        ]
    }


def rankable(value: Any) -> Any:
    """Return what a figure sorts by: a revenue (``{"value": ...}``) by its value."""
    return value.get("value") if isinstance(value, dict) else value


def _positive(text: str | None, default: int, message: str, most: int | None) -> int:
    if text is None:
        return default
    if not text.isdigit() or int(text) < 1 or (most is not None and int(text) > most):
        raise StatsRefused(message, field="limit" if most else "page")
    return int(text)


def _sorted(rows: list[Any], keys: list[tuple[Any, bool]]) -> list[Any]:
    """Sort stably by each (key, descending) in turn; None last either way."""
    ordered = list(rows)
    for key, descending in reversed(keys):

        def rank(row: Any, key: Any = key, descending: bool = descending) -> tuple[bool, Any]:
            value = key(row)
            if descending:
                return (value is not None, value if value is not None else 0)
            return (value is None, value if value is not None else 0)

        ordered.sort(key=rank, reverse=descending)
    return ordered

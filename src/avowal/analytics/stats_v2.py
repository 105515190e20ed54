"""`POST /api/v2/query`: Plausible's query object answered with the dashboard's figures.

Dimensions: none (the totals), one property, one time dimension, or one time dimension and one
property (each bucket's table). avowal keeps no figures crossing two properties, so two are
refused. Rows without any activity are left out, as Plausible does; ``include.time_labels``
lists every bucket, ``include.total_rows`` counts the rows before pagination.
"""

from __future__ import annotations

from typing import Any

from avowal.analytics import stats_figures as figures
from avowal.analytics import stats_periods as periods
from avowal.analytics import stats_query as sq
from avowal.analytics.query import DayRange
from avowal.analytics.stats_answers import (
    TIME_DIMENSIONS,
    V2_LIMIT,
    Context,
    Site,
    _sorted,
    rankable,
)
from avowal.analytics.stats_query import Property, StatsRefused
from avowal.analytics.stats_schemas import QueryRequest

INCLUDE = ("time_labels", "total_rows", "imports")
Line = tuple[list[str], dict[str, Any]]


def _dimensions(given: list[str]) -> tuple[str | None, Property | None]:
    """Return the time dimension and the property asked for; refuse anything else."""
    time: str | None = None
    prop: Property | None = None
    for i, name in enumerate(given):
        if name in TIME_DIMENSIONS:
            if time is not None:
                raise StatsRefused(
                    "Only one time dimension can be queried at a time.", field="dimensions"
                )
            time = name
            continue
        if not sq.known_property(name):
            raise StatsRefused(f'#/dimensions/{i}: Invalid dimension "{name[:60]}"')
        if prop is not None:
            raise StatsRefused(
                f"Dimensions `{prop.name}` and `{name}` together are not supported: avowal keeps "
                "no figures crossing two properties (ask for one and filter by the other).",
                field="dimensions",
            )
        prop = sq.resolve_property(name)
    if len(set(given)) != len(given):
        raise StatsRefused("#/dimensions: Expected items to be unique but they were not.")
    return time, prop


def _include(given: dict[str, Any], time: str | None) -> dict[str, Any]:
    unknown = sorted(set(given) - set(INCLUDE))
    if unknown:
        raise StatsRefused(
            f"Invalid include '{unknown[0][:40]}': avowal supports {', '.join(INCLUDE)}.",
            field="include",
        )
    if given.get("time_labels") and time is None:
        raise StatsRefused(
            "Invalid include.time_labels: requires a time dimension.", field="include"
        )
    return given


def _order(body: QueryRequest, time: str | None, names: tuple[str, ...]) -> list[list[str]]:
    if body.order_by is None:
        first = [[names[0], "desc"]]
        return [[time, "asc"], *first] if time else first
    for entry in body.order_by:
        valid = len(entry) == 2 and entry[1] in ("asc", "desc")
        if not valid or (entry[0] not in names and entry[0] not in body.dimensions):
            raise StatsRefused(
                f"Invalid order_by entry {entry!r}"[:120]
                + ": a metric or dimension of the query, and asc or desc.",
                field="order_by",
            )
    return body.order_by


def _active(figs: dict[str, Any]) -> bool:
    return bool(figs["visitors"] or figs["visits"] or figs["events"])


def _lines(
    ctx: Context,
    at: Site,
    body: QueryRequest,
    days: DayRange,
    time: str | None,
    prop: Property | None,
) -> tuple[list[Line], list[str] | None]:
    source = ctx.reader(at, days, sq.v2_filters(body.filters))
    if time is None:
        if prop is None:
            return [([], figures.aggregate(source, days))], None
        return [([v], f) for v, f in figures.table(source, prop, days)], None
    interval = _interval(time, days)
    labels = figures.labels(days, interval)
    if prop is None:
        series = figures.series(source, days, interval)
        return [([label], f) for label, f in series if _active(f)], labels
    time_first = body.dimensions[0] == time
    return [
        ([label, value] if time_first else [value, label], f)
        for (label, value), f in figures.series_table(source, prop, days, interval)
    ], labels


def _interval(time: str, days: DayRange) -> str:
    return TIME_DIMENSIONS[time] or figures.default_interval(days)


def run(ctx: Context, at: Site, body: QueryRequest) -> dict[str, Any]:
    """Answer a v2 query: ``{"results": [...], "meta": {...}, "query": {...}}``."""
    days = periods.v2_range(body.date_range, ctx.today)
    time, prop = _dimensions(body.dimensions)
    names = sq.check_metrics(body.metrics, prop, v2=True)
    if time is not None and _interval(time, days) == "hour":
        for name in names:
            if name not in sq.HOUR_METRICS:
                raise StatsRefused(
                    f"Metric `{name}` is not supported per hour: avowal rolls up visits' "
                    "bounces and durations per day.",
                    field="metrics",
                )
    include = _include(body.include, time)
    order = _order(body, time, names)
    paging = {"limit": V2_LIMIT, "offset": 0, **(body.pagination or {})}
    if set(paging) != {"limit", "offset"} or paging["limit"] < 1 or paging["offset"] < 0:
        raise StatsRefused(
            "Invalid pagination: a positive limit and an offset.", field="pagination"
        )
    lines, labels = _lines(ctx, at, body, days, time, prop)
    keys = []
    for name, direction in order:
        if name in names:
            keys.append((lambda line, n=name: rankable(line[1].get(n)), direction == "desc"))
        else:
            at_index = body.dimensions.index(name)
            keys.append((lambda line, i=at_index: line[0][i], direction == "desc"))
    ordered = _sorted(lines, keys)
    chosen = ordered[paging["offset"] : paging["offset"] + paging["limit"]]
    meta: dict[str, Any] = {}
    if include.get("imports"):
        meta["imports_included"] = False
    if include.get("time_labels"):
        meta["time_labels"] = labels
    if include.get("total_rows"):
        meta["total_rows"] = len(ordered)
    echo: dict[str, Any] = {
        "site_id": at.domain,
        "metrics": list(names),
        "date_range": [f"{days.start}T00:00:00+00:00", f"{days.end}T23:59:59+00:00"],
        "filters": body.filters,
        "dimensions": body.dimensions,
        "order_by": order,
        "include": body.include,
    }
    if body.pagination is not None:
        echo["pagination"] = {"offset": paging["offset"], "limit": paging["limit"]}
    return {
        "results": [
            {"metrics": [f.get(n) for n in names], "dimensions": dims} for dims, f in chosen
        ],
        "meta": meta,
        "query": echo,
    }

"""What the analytics dashboard page shows: figures formatted, tables, the chart and its links.

Shared by the staff page (`/console/analytics`) and read-only share links (`/share/{token}`);
both are plain GET forms and links, so the page works without any script.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any
from urllib.parse import urlencode

from sqlalchemy.orm import Session

from avowal.analytics import dashboard, dimensions, query
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.deps import Params, parse
from avowal.analytics.query import RETENTION_RULE, InvalidQuery
from avowal.console import analytics_chart
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings

COUNT, PCT, DUR, MONEY = "count", "pct", "dur", "money"
NONE = "\u2013"  # an en dash: no value
Column = tuple[str, str, str]  # (key in a row, heading, format)
VISITORS = ("visitors", "Visitors", COUNT)
VISITS = ("visits", "Visits", COUNT)
BOUNCE = ("bounce_rate", "Bounce rate", PCT)
DURATION = ("visit_duration", "Visit duration", DUR)
# The columns of each shape of row (dimensions.Dimension.rows), after the value's.
COLUMNS: dict[str, list[Column]] = {
    dimensions.PAGE_ROWS: [
        VISITORS,
        ("pageviews", "Page views", COUNT),
        BOUNCE,
        ("time_on_page", "Time on page", DUR),
        ("scroll_depth", "Scroll depth", PCT),
    ],
    dimensions.ENTRY_ROWS: [VISITORS, ("entrances", "Entrances", COUNT), BOUNCE, DURATION],
    dimensions.EXIT_ROWS: [VISITORS, ("exits", "Exits", COUNT), ("exit_rate", "Exit rate", PCT)],
    dimensions.VISIT_ROWS: [VISITORS, VISITS, BOUNCE, DURATION],
    dimensions.EVENT_ROWS: [
        VISITORS,
        ("events", "Events", COUNT),
        ("conversion_rate", "Conversion", PCT),
    ],
}
# Goals also show their revenue (its sum per currency).
REVENUE: Column = ("revenue", "Revenue", MONEY)


def columns(dimension: dimensions.Dimension) -> list[Column]:
    """Return the columns of a dimension's table, after the value's."""
    found = COLUMNS[dimension.rows]
    return [*found, REVENUE] if dimension.kind == dimensions.EVENT else found


CARDS = [
    ("visitors", "Unique visitors", COUNT),
    ("visits", "Visits", COUNT),
    ("pageviews", "Page views", COUNT),
    ("views_per_visit", "Views per visit", "ratio"),
    ("bounce_rate", "Bounce rate", PCT),
    ("visit_duration", "Visit duration", DUR),
]


def fmt(value: Any, kind: str) -> str:
    """Format a figure for people: 12,345 · 57.1% · 5m 21s · 1.57; a dash for no value."""
    if value is None:
        return NONE
    if kind == PCT:
        return f"{value:.1f}%"
    if kind == DUR:
        minutes, seconds = divmod(int(value), 60)
        hours, minutes = divmod(minutes, 60)
        if hours:
            return f"{hours}h {minutes:02d}m"
        return f"{minutes}m {seconds:02d}s" if minutes else f"{seconds}s"
    if kind == "ratio":
        return f"{value:.2f}"
    if kind == MONEY:  # a goal's revenue: its sum per currency
        return " \u00b7 ".join(f"{m['currency']} {m['amount']}" for m in value) or NONE
    return f"{int(value):,}"


def delta(value: float | None, *, points: bool, lower_is_better: bool) -> tuple[str, str]:
    """Return the text and CSS class of a change (better, worse or same)."""
    if value is None:
        return "new" if not points else NONE, "same"
    if value == 0:
        return "no change", "same"
    text = f"{value:+.1f}{' pts' if points else '%'}"
    better = (value < 0) if lower_is_better else (value > 0)
    return text, "better" if better else "worse"


@dataclass
class Links:
    """Builds the page's own links, keeping the current range, comparison and filters."""

    base: str
    params: dict[str, Any]

    def to(self, path: str | None = None, **changes: Any) -> str:
        """Return a link to ``path`` (default: this page) with ``changes`` to the parameters."""
        merged = {**self.params, **changes}
        kept = {k: v for k, v in merged.items() if v not in (None, "", [])}
        query = urlencode(kept, doseq=True)
        return f"{path or self.base}{'?' + query if query else ''}"

    def with_filter(self, kind: str, value: str) -> str:
        """Return this page filtered by one more ``kind:value``."""
        current = list(self.params.get("filter") or [])
        added = f"{kind}:{value}"
        return self.to(filter=current if added in current else [*current, added])

    def without_filter(self, text: str) -> str:
        """Return this page without the filter ``text``."""
        return self.to(filter=[f for f in self.params.get("filter") or [] if f != text])

    def invert_filter(self, text: str) -> str:
        """Return this page with the filter ``text`` turned around (``is`` <-> ``is not``)."""
        kind, _, value = text.partition(":")
        flipped = kind.removesuffix(query.NOT) if kind.endswith(query.NOT) else kind + query.NOT
        turned = f"{flipped}:{value}"
        return self.to(filter=[turned if f == text else f for f in self.params.get("filter") or []])


@dataclass
class Table:
    """One dimension's table as shown."""

    title: str
    dimension: str
    headings: list[str]
    rows: list[dict[str, Any]] = field(default_factory=list)
    csv: str = ""


def _bar(visitors: int, most: int) -> str:
    # Widths come from classes (w0 ... w100 in steps of 5): the CSP forbids style attributes.
    return f"w{round(20 * visitors / most) * 5 if most else 0}"


def _table(
    source: Any,
    parsed: Any,
    dimension: dimensions.Dimension,
    links: Links,
    csv_path: str,
    limit: int,
) -> Table | None:
    rows = dashboard.breakdown_rows(source, dimension.name, parsed.range, limit)
    if not rows and not dimension.always_shown:
        return None
    shown = columns(dimension)
    headings = [dimension.label, *(c[1] for c in shown)]
    table = Table(
        dimension.title, dimension.name, headings, csv=links.to(csv_path, table=dimension.name)
    )
    most = max((r["visitors"] for r in rows), default=0)
    for row in rows:
        table.rows.append(
            {
                "label": row["value"],
                # Every dimension filters: a row's link shows only the visits with its value.
                "href": links.with_filter(dimension.name, row["value"]),
                "filter": dimension.describe(row["value"]),
                "bar": _bar(row["visitors"], most),
                "cells": [fmt(row.get(key), kind) for key, _, kind in shown],
            }
        )
    return table


def presets(today: dt.date) -> list[tuple[str, str, str]]:
    """Return (label, from, to) of the quick ranges."""
    return [
        ("Today", today.isoformat(), today.isoformat()),
        ("Last 7 days", (today - dt.timedelta(days=6)).isoformat(), today.isoformat()),
        ("Last 30 days", (today - dt.timedelta(days=29)).isoformat(), today.isoformat()),
    ]


def build(
    session: Session,
    settings: Settings,
    policy: LoadedPolicy,
    domain: str,
    given: Params,
    *,
    metric: str,
    links: Links,
    csv_path: str,
    limit: int = 10,
) -> dict[str, Any]:
    """Return the template context of a site's dashboard (raises on bad parameters).

    A filtered page whose comparison period lies beyond the raw events kept is shown without the
    comparison, saying why, rather than refused: the filter link came from the page itself.
    """
    notice = None
    try:
        parsed, source = parse(session, settings, policy, domain, given)
    except InvalidQuery as exc:
        if not (given.compare and given.filters and exc.details.get("rule") == RETENTION_RULE):
            raise
        given = replace(given, compare=None)
        parsed, source = parse(session, settings, policy, domain, given)
        notice = (
            "No comparison with the previous period: filtered figures come from raw events, "
            f"kept since {exc.details.get('oldest')}."
        )
    summary = dashboard.summary(source, parsed)
    series = dashboard.timeseries(source, parsed)
    chart = analytics_chart.build(
        series["points"], series["previous"], interval=series["interval"], metric=metric
    )
    cards = []
    for key, label, kind in CARDS:
        card: dict[str, Any] = {
            "label": label,
            "value": fmt(summary["totals"][key], kind),
            "delta": None,
        }
        if summary["change"] is not None:
            text, css = delta(
                summary["change"][key],
                points=key == "bounce_rate",
                lower_is_better=key == "bounce_rate",
            )
            before = fmt(summary["previous"]["totals"][key], kind)
            card["delta"] = {"text": text, "class": css, "before": before}
        cards.append(card)
    tables = [
        t
        for dimension in dimensions.DIMENSIONS
        if (t := _table(source, parsed, dimension, links, csv_path, limit))
    ]
    today = clock.now().date()
    return {
        "query": parsed,
        "summary": summary,
        "cards": cards,
        "chart": chart,
        "interval": series["interval"],
        "tables": tables,
        "realtime": dashboard.realtime(
            session, parsed.site_id, clock.now(), clickhouse_events.of(settings)
        ),
        "presets": [(label, links.to(**{"from": a, "to": b})) for label, a, b in presets(today)],
        "metrics": [
            (name, noun, links.to(metric=name), name == metric)
            for name, noun in analytics_chart.METRICS.items()
        ],
        "filters": [
            {
                "text": query.filter_text(f),
                "label": query.describe(f),
                "remove": links.without_filter(query.filter_text(f)),
                "invert": links.invert_filter(query.filter_text(f)),
                "negated": f.negated,
            }
            for f in parsed.filters
        ],
        "compare_link": links.to(compare=None if parsed.compare else "previous"),
        "series_csv": links.to(csv_path, table="timeseries"),
        "visit_minutes": settings.analytics_visit_minutes,
        "notice": notice,
        "sample": (
            None
            if source.sample is None
            else {"percent": source.sample.percent, "exact_link": links.to(exact="true")}
        ),
        "exact": given.exact,
    }


def params_of(given: Params, metric: str, extra: Sequence[tuple[str, str]] = ()) -> dict[str, Any]:
    """Return the page's query parameters as given (for its links)."""
    return {
        **dict(extra),
        "from": given.start,
        "to": given.end,
        "compare": given.compare,
        "filter": given.filters,
        "metric": None if metric == "visitors" else metric,
        "exact": "true" if given.exact else None,
    }

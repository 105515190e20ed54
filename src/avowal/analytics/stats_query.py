"""Plausible's Stats API vocabulary, read into what the dashboard's readers answer.

Periods become UTC days (:mod:`avowal.analytics.stats_periods`, at most
``query.MAX_DAYS``); filters become the dashboard's own ``kind:value`` filters, parsed by
:func:`avowal.analytics.query.parse_filters` and held to its retention rule; properties and
dimensions become the dashboard's breakdown dimensions. What avowal does not keep is refused with
400 naming it, as Plausible refuses what it does not know.

Supported (the dashboard's figures, see :mod:`avowal.analytics.dashboard`):

- metrics ``visitors``, ``visits``, ``pageviews``, ``views_per_visit``, ``bounce_rate``,
  ``visit_duration``, ``events`` (Plausible's meaning: page views + custom events), and in a
  breakdown by page ``time_on_page``, by event name or goal (every custom event name is a goal
  here) or custom property ``conversion_rate``;
- properties and dimensions: ``event:page``, ``event:name``, ``event:goal``, ``event:props:*``,
  ``visit:source``, ``visit:referrer`` (the referring domain), ``visit:utm_*``, ``visit:device``,
  ``visit:browser``, ``visit:os``, ``visit:country``, ``visit:entry_page``, ``visit:exit_page``;
- filters: equality (``==``, ``is`` with one value) on the kinds the dashboard filters by
  (``query.FILTER_KINDS``: page and source), all of which must hold.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from avowal.analytics import dashboard, query
from avowal.analytics.deps import MAX_FILTERS
from avowal.analytics.rollup import VisitFilter
from avowal.lib.errors import AvowalError

DOCS = "https://plausible.io/docs/stats-api"


class StatsRefused(AvowalError):
    """A Stats API request asks for something Plausible or avowal does not know."""

    status_code = 400
    error = "invalid_stats_query"


# -- Metrics -----------------------------------------------------------------------------------

# Every metric Plausible's Stats API knows: an unknown one is "not recognized"; a known one
# avowal does not compute is "not supported".
PLAUSIBLE_METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
    "conversion_rate",
    "group_conversion_rate",
    "time_on_page",
    "scroll_depth",
    "percentage",
    "exit_rate",
    "average_revenue",
    "total_revenue",
)
VISIT_METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
)
PAGE_METRICS = ("visitors", "visits", "pageviews", "bounce_rate", "time_on_page")
EVENT_METRICS = ("visitors", "visits", "events", "conversion_rate")
# Hours are rolled up without visits' bounces and durations (see the dashboard's time series).
HOUR_METRICS = ("visitors", "visits", "pageviews", "events", "views_per_visit")


# -- Properties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """A Plausible property or dimension and the dashboard dimension that answers it."""

    name: str  # Plausible's: visit:source, event:props:plan...
    dimension: str  # the dashboard's: source, prop...
    key: str  # the name of its value in a v1 breakdown row: source, plan...
    prop: str | None = None  # a custom property's key

    @property
    def metrics(self) -> tuple[str, ...]:
        """Return the metrics avowal has for this dimension's values."""
        if self.dimension == "page":
            return PAGE_METRICS
        if self.dimension in ("event", "prop"):
            return EVENT_METRICS
        return VISIT_METRICS

    @property
    def event_only(self) -> bool:
        """Tell whether its values are events' (no visit figures: bounce rate, duration)."""
        return self.dimension in ("event", "prop")


# Plausible's name -> the dashboard's dimension. Values are avowal's as stored (devices in lower
# case, the referrer's domain only).
MAPPED = {
    "event:page": "page",
    "event:name": "event",
    "event:goal": "event",
    "visit:entry_page": "entry_page",
    "visit:exit_page": "exit_page",
    "visit:source": "source",
    "visit:referrer": "referrer",
    "visit:utm_source": "utm_source",
    "visit:utm_medium": "utm_medium",
    "visit:utm_campaign": "utm_campaign",
    "visit:utm_term": "utm_term",
    "visit:utm_content": "utm_content",
    "visit:device": "device",
    "visit:browser": "browser",
    "visit:os": "os",
    "visit:country": "country",
}
# Known to Plausible, not kept by avowal.
NOT_KEPT = (
    "event:hostname",
    "visit:channel",
    "visit:region",
    "visit:city",
    "visit:country_name",
    "visit:region_name",
    "visit:city_name",
    "visit:browser_version",
    "visit:os_version",
    "visit:entry_page_hostname",
    "visit:exit_page_hostname",
)
PROPS = "event:props:"


def known_property(name: str) -> bool:
    """Tell whether Plausible knows a property (whether or not avowal keeps it)."""
    if name.startswith(PROPS):
        return len(name) > len(PROPS)
    return name in MAPPED or name in NOT_KEPT


def resolve_property(name: str) -> Property:
    """Return the dimension answering a property Plausible knows; refuse one avowal lacks."""
    if name.startswith(PROPS):
        key = name[len(PROPS) :]
        return Property(name, "prop", key, prop=key)
    dimension = MAPPED.get(name)
    if dimension is None or dimension not in dashboard.BREAKDOWNS:
        raise StatsRefused(
            f"Property `{name}` is not supported: avowal does not keep it. Supported: "
            f"{', '.join(supported_properties())}",
            field="property",
        )
    return Property(name, dimension, name.split(":", 1)[1])


def supported_properties() -> list[str]:
    """Return the properties avowal answers, custom properties as ``event:props:*``."""
    return [n for n, d in MAPPED.items() if d in dashboard.BREAKDOWNS] + [PROPS + "*"]


def check_metrics(names: list[str], prop: Property | None, *, v2: bool) -> tuple[str, ...]:
    """Refuse an unknown, repeated or (for the dimension) unsupported metric."""
    for i, name in enumerate(names):
        if name not in PLAUSIBLE_METRICS:
            raise StatsRefused(
                f'#/metrics/{i}: Invalid metric "{name}"'
                if v2
                else f"The metric `{name}` is not recognized. Find valid metrics from the "
                f"documentation: {DOCS}#metrics",
                field="metrics",
            )
    if len(set(names)) != len(names):
        raise StatsRefused(
            "#/metrics: Expected items to be unique but they were not."
            if v2
            else "Metrics cannot be queried multiple times.",
            field="metrics",
        )
    allowed = prop.metrics if prop else VISIT_METRICS
    for name in names:
        if name in allowed:
            continue
        if name == "conversion_rate":
            reason = "it is given in a breakdown by `event:goal`, `event:name` or `event:props:*`"
        elif name == "time_on_page":
            reason = "it is given in a breakdown by `event:page`"
        elif prop is not None and name in VISIT_METRICS:
            reason = f"avowal does not keep it per value of `{prop.name}`"
        else:
            reason = "avowal does not compute it"
        raise StatsRefused(f"Metric `{name}` is not supported: {reason}.", field="metrics")
    return tuple(names)


# -- Filters -----------------------------------------------------------------------------------


def _dashboard_filter(prop: str, value: str) -> str:
    """Return the dashboard's ``kind:value`` filter for ``prop == value``, or refuse."""
    if not known_property(prop):
        raise StatsRefused(
            f"Invalid filter property '{prop[:60]}'. Please provide a valid filter property: "
            f"{DOCS}#properties",
            field="filters",
        )
    kind = MAPPED.get(prop)
    if kind not in query.FILTER_KINDS:
        supported = [n for n, k in MAPPED.items() if k in query.FILTER_KINDS]
        raise StatsRefused(
            f"Filtering on `{prop}` is not supported: avowal filters by "
            f"{' and '.join(f'`{s}`' for s in supported)} only.",
            field="filters",
        )
    if kind == "page" and "*" in value:
        raise StatsRefused(
            f"Wildcards in `{prop}` filters are not supported: give one path exactly.",
            field="filters",
        )
    return f"{kind}:{value}"


def v1_filters(text: str | None) -> tuple[VisitFilter, ...]:
    """Parse v1 ``filters`` (``visit:source==Google;event:page==/pricing``)."""
    found = []
    for part in (text or "").split(";"):
        if not part:
            continue
        prop, sep, value = part.partition("==")
        if not sep:
            other = next((op for op in ("!=", "~") if op in part), None)
            raise StatsRefused(
                f"Filter '{part[:60]}' is not supported: "
                + (f"operator `{other}`; " if other else "")
                + "avowal filters with `==` only.",
                field="filters",
            )
        if "|" in value:
            raise StatsRefused(
                f"Filter '{part[:60]}' is not supported: one value only (no `|`).",
                field="filters",
            )
        found.append(_dashboard_filter(prop, value))
    return _parsed(found)


def v2_filters(filters: list[Any]) -> tuple[VisitFilter, ...]:
    """Parse v2 ``filters``: each ``["is", dimension, [value]]`` (all must hold)."""
    found = []
    for i, item in enumerate(filters):
        shown = repr(item)[:80]
        if not (isinstance(item, list) and len(item) >= 3 and isinstance(item[0], str)):
            raise StatsRefused(f"#/filters/{i}: Invalid filter {shown}", field="filters")
        operator, prop, clauses = item[0], item[1], item[2]
        if operator != "is" or len(item) > 3:
            raise StatsRefused(
                f"Filter {shown} is not supported: avowal filters with `is` (one value, case "
                "sensitive) only.",
                field="filters",
            )
        values_ok = isinstance(clauses, list) and all(isinstance(c, str) for c in clauses)
        if not isinstance(prop, str) or not values_ok:
            raise StatsRefused(f"#/filters/{i}: Invalid filter {shown}", field="filters")
        if len(clauses) != 1:
            raise StatsRefused(
                f"Filter {shown} is not supported: give exactly one value.", field="filters"
            )
        found.append(_dashboard_filter(prop, clauses[0]))
    return _parsed(found)


def _parsed(texts: list[str]) -> tuple[VisitFilter, ...]:
    if len(texts) > MAX_FILTERS:
        raise StatsRefused(
            f"{len(texts)} filters: avowal combines at most {MAX_FILTERS}.", field="filters"
        )
    try:
        return query.parse_filters(texts)
    except query.InvalidQuery as exc:
        raise StatsRefused(exc.message, field="filters") from None

"""Plausible's Stats API vocabulary, read into what the dashboard's readers answer.

Periods become UTC days (:mod:`avowal.analytics.stats_periods`, at most ``query.MAX_DAYS``);
properties, dimensions and filters are the dimensions of :mod:`avowal.analytics.dimensions`
under their Plausible names (``visit:source``, ``event:page``, ``event:goal``...), and custom
properties (``event:props:KEY``) the ``prop`` dimension; filters become the dashboard's own
:class:`~avowal.analytics.rollup.VisitFilter`, held to its retention rule. What avowal does not
keep is refused with 400 naming it, as Plausible refuses what it does not know.

Supported (the dashboard's figures, see :mod:`avowal.analytics.dashboard`):

- metrics: those of the totals (``dimensions.VISIT_METRICS``; ``events`` in Plausible's meaning,
  page views + custom events), and per value of a property those of its dimension's kind
  (:attr:`avowal.analytics.dimensions.Dimension.metrics`): ``time_on_page`` and
  ``scroll_depth`` by page, ``conversion_rate`` by goal or custom property, ``total_revenue``
  and ``average_revenue`` by goal;
- properties and dimensions: every dimension of the registry (``dimensions.PLAUSIBLE``) and
  ``event:props:*``;
- filters: ``==`` / ``is`` and ``!=`` / ``is_not`` with one value on any of them, all of which
  must hold. Several values of one property (``|``, a list of several) would be an OR, which the
  dashboard's filters do not combine: they are refused, naming why.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from avowal.analytics import dimensions, query
from avowal.analytics.deps import MAX_FILTERS
from avowal.analytics.dimensions import Dimension
from avowal.analytics.filters import VisitFilter
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
# The metrics of a range's totals (no property).
TOTAL_METRICS = dimensions.VISIT_METRICS
# Hours are rolled up without visits' bounces and durations (see the dashboard's time series).
HOUR_METRICS = ("visitors", "visits", "pageviews", "events", "views_per_visit")


# -- Properties --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Property:
    """A Plausible property or dimension and the dashboard dimension that answers it."""

    name: str  # Plausible's: visit:source, event:props:plan...
    dimension: Dimension
    key: str  # the name of its value in a v1 breakdown row: source, plan...
    prop: str | None = None  # a custom property's key

    @property
    def metrics(self) -> tuple[str, ...]:
        """Return the metrics avowal has for this dimension's values."""
        return self.dimension.metrics


# Plausible's name -> the dashboard's dimension (the registry's). Values are avowal's as stored
# (devices in lower case, the referrer's domain only).
MAPPED = dimensions.PLAUSIBLE
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
        return Property(name, dimensions.BY_NAME["prop"], key, prop=key)
    dimension = MAPPED.get(name)
    if dimension is None:
        raise StatsRefused(
            f"Property `{name}` is not supported: avowal does not keep it. Supported: "
            f"{', '.join(supported_properties())}",
            field="property",
        )
    return Property(name, dimensions.BY_NAME[dimension], name.split(":", 1)[1])


def supported_properties() -> list[str]:
    """Return the properties avowal answers, custom properties as ``event:props:*``."""
    return [*MAPPED, PROPS + "*"]


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
    allowed = prop.metrics if prop else TOTAL_METRICS
    for name in names:
        if name in allowed:
            continue
        if name == "conversion_rate":
            reason = "it is given in a breakdown by `event:goal`, `event:name` or `event:props:*`"
        elif name in ("time_on_page", "scroll_depth"):
            reason = "it is given in a breakdown by `event:page`"
        elif name in dimensions.REVENUE_METRICS:
            reason = "it is given in a breakdown by `event:goal` or `event:name`"
        elif prop is not None and name in TOTAL_METRICS:
            reason = f"avowal does not keep it per value of `{prop.name}`"
        else:
            reason = "avowal does not compute it"
        raise StatsRefused(f"Metric `{name}` is not supported: {reason}.", field="metrics")
    return tuple(names)


# -- Filters -----------------------------------------------------------------------------------


_V1_FILTER = re.compile(r"^([^=!~]+)(==|!=)(.*)$", re.DOTALL)


def _filter(prop: str, value: str, negated: bool) -> VisitFilter:
    """Return the dashboard's filter for ``prop == value`` (``!=`` if negated), or refuse."""
    if not known_property(prop):
        raise StatsRefused(
            f"Invalid filter property '{prop[:60]}'. Please provide a valid filter property: "
            f"{DOCS}#properties",
            field="filters",
        )
    if prop.startswith(PROPS):
        kind, value = "prop", f"{prop[len(PROPS) :]}={value}"
    else:
        found = MAPPED.get(prop)
        if found is None:
            raise StatsRefused(
                f"Filtering on `{prop}` is not supported: avowal does not keep it. Supported: "
                f"{', '.join(supported_properties())}",
                field="filters",
            )
        kind = found
    if kind == "page" and "*" in value:
        raise StatsRefused(
            f"Wildcards in `{prop}` filters are not supported: give one path exactly.",
            field="filters",
        )
    try:
        return query.parse_filter(f"{kind}{query.NOT if negated else ''}:{value}")
    except query.InvalidQuery as exc:
        raise StatsRefused(f"Filter on `{prop}`: {exc.message}", field="filters") from None


def v1_filters(text: str | None) -> tuple[VisitFilter, ...]:
    """Parse v1 ``filters`` (``visit:source==Google;event:page!=/pricing``); all must hold."""
    found = []
    for part in (text or "").split(";"):
        if not part:
            continue
        matched = _V1_FILTER.match(part)
        if matched is None:
            other = "`~` (contains)" if "~" in part else None
            raise StatsRefused(
                f"Filter '{part[:60]}' is not supported: "
                + (f"operator {other}; " if other else "")
                + "avowal filters with `==` and `!=` (property==value).",
                field="filters",
            )
        prop, operator, value = matched.groups()
        if "|" in value:
            raise StatsRefused(
                f"Filter '{part[:60]}' is not supported: several values (`|`, any of them) are "
                "not combined here; give one value per property.",
                field="filters",
            )
        found.append(_filter(prop, value, operator == "!="))
    return _counted(found)


V2_OPERATORS = {"is": False, "is_not": True}


def v2_filters(filters: list[Any]) -> tuple[VisitFilter, ...]:
    """Parse v2 ``filters``: each ``["is", dimension, [value]]`` or ``["is_not", ...]``."""
    found = []
    for i, item in enumerate(filters):
        shown = repr(item)[:80]
        if not (isinstance(item, list) and len(item) >= 2 and isinstance(item[0], str)):
            raise StatsRefused(f"#/filters/{i}: Invalid filter {shown}", field="filters")
        operator = item[0]
        if operator not in V2_OPERATORS or len(item) != 3:
            raise StatsRefused(
                f"Filter {shown} is not supported: avowal filters with `is` and `is_not` (one "
                "value, case sensitive) only"
                + (f", not `{operator[:20]}`." if operator not in V2_OPERATORS else "."),
                field="filters",
            )
        prop, clauses = item[1], item[2]
        values_ok = isinstance(clauses, list) and all(isinstance(c, str) for c in clauses)
        if not isinstance(prop, str) or not values_ok:
            raise StatsRefused(f"#/filters/{i}: Invalid filter {shown}", field="filters")
        if len(clauses) != 1:
            raise StatsRefused(
                f"Filter {shown} is not supported: give exactly one value (several values are "
                "any of them, which avowal's filters do not combine).",
                field="filters",
            )
        found.append(_filter(prop, clauses[0], V2_OPERATORS[operator]))
    return _counted(found)


def _counted(found: list[VisitFilter]) -> tuple[VisitFilter, ...]:
    if len(found) > MAX_FILTERS:
        raise StatsRefused(
            f"{len(found)} filters: avowal combines at most {MAX_FILTERS}.", field="filters"
        )
    return tuple(found)

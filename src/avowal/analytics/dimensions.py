"""Every dimension of the analytics, declared once: the store, rollups, filters, dashboard and
Stats API all read this registry, so adding a dimension touches this file (and the column it
reads, if new).

A dimension is one of four kinds, which decide how a visit is counted under it and which
figures its values have:

- ``page`` (``page``): every page a visit viewed; figures per page (visitors, visits, page
  views, bounces, time on page, scroll depth);
- ``visit``: an attribute of the visit, taken from its first event (source, UTM tags, browser,
  country...) or its first and last page views (entry and exit page); figures of the visits;
- ``event``: the custom events (goals) a visit fired, and ``prop``: their properties as
  ``key=value``; figures of the events (visitors, visits, events, revenue).

``column`` is the raw event column a visit attribute is read from (``None`` for the dimensions
derived from pages and custom events); ``plausible`` is the name Plausible's Stats API gives it.
``rows`` is the shape of its table's rows (page, entry, exit, visit or event figures), which
the dashboard's JSON, CSV and console tables and the Stats API read; it follows from the kind
except for the entry and exit pages.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.orm import InstrumentedAttribute

from avowal.analytics.models import Event

PAGE, VISIT, EVENT, PROP = "page", "visit", "event", "prop"
DIRECT = "Direct / None"  # the source of a visit without one

# The shapes of a table's rows (see dashboard.breakdown_rows).
PAGE_ROWS, ENTRY_ROWS, EXIT_ROWS, VISIT_ROWS, EVENT_ROWS = "page", "entry", "exit", "visit", "event"

# The Stats API's metrics of one value of a dimension, per kind.
VISIT_METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "views_per_visit",
    "bounce_rate",
    "visit_duration",
    "events",
)
PAGE_METRICS = (
    "visitors",
    "visits",
    "pageviews",
    "bounce_rate",
    "time_on_page",
    "scroll_depth",
)
EVENT_METRICS = ("visitors", "visits", "events", "conversion_rate")
# Goals only: their revenue's sum and its average per event with a revenue.
REVENUE_METRICS = ("total_revenue", "average_revenue")


@dataclass(frozen=True)
class Dimension:
    """One dimension: its name, kind, column, labels and the metrics its values have."""

    name: str
    kind: str
    title: str  # the dashboard table's title
    label: str  # one value's label ("Source")
    plausible: str
    column: InstrumentedAttribute[str | None] | None = None
    # The dashboard shows the table even with no rows (the others only when they have some).
    always_shown: bool = False
    # The shape of its table's rows, when it is not the kind's (entry and exit pages).
    row_shape: str | None = None

    @property
    def rows(self) -> str:
        """Return the shape of its table's rows: page, entry, exit, visit or event figures."""
        if self.row_shape is not None:
            return self.row_shape
        if self.kind == PAGE:
            return PAGE_ROWS
        if self.kind in (EVENT, PROP):
            return EVENT_ROWS
        return VISIT_ROWS

    @property
    def metrics(self) -> tuple[str, ...]:
        """Return the Stats API metrics its values have."""
        if self.kind == PAGE:
            return PAGE_METRICS
        if self.kind == EVENT:
            return EVENT_METRICS + REVENUE_METRICS
        if self.kind == PROP:
            return EVENT_METRICS
        return VISIT_METRICS

    @property
    def short(self) -> str:
        """Return its key in a Stats API v1 breakdown row (``source``, ``page``, ``goal``)."""
        return self.plausible.rsplit(":", 1)[1]

    def describe(self, value: str, negated: bool = False) -> str:
        """Return a filter on it for people: ``Source is Google``, ``Page is not /blog``."""
        return f"{self.label} {'is not' if negated else 'is'} {value}"

    @property
    def attribute(self) -> bool:
        """Tell whether it is a visit attribute read from the visit's first event's column."""
        return self.column is not None


def _visit(
    name: str,
    title: str,
    label: str,
    column: InstrumentedAttribute[str | None],
    shown: bool = True,
) -> Dimension:
    return Dimension(name, VISIT, title, label, f"visit:{name}", column, always_shown=shown)


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("page", PAGE, "Top pages", "Page", "event:page", always_shown=True),
    Dimension(
        "entry_page", VISIT, "Entry pages", "Entry page", "visit:entry_page", None, True, ENTRY_ROWS
    ),
    Dimension(
        "exit_page", VISIT, "Exit pages", "Exit page", "visit:exit_page", None, True, EXIT_ROWS
    ),
    # The visit attributes, in the order of visits.EVENT_COLUMNS (source first).
    _visit("source", "Sources", "Source", Event.source),
    _visit("referrer", "Referrers", "Referrer", Event.referrer_domain),
    _visit("utm_source", "UTM sources", "UTM source", Event.utm_source, False),
    _visit("utm_medium", "UTM mediums", "UTM medium", Event.utm_medium, False),
    _visit("utm_campaign", "UTM campaigns", "UTM campaign", Event.utm_campaign),
    _visit("utm_term", "UTM terms", "UTM term", Event.utm_term, False),
    _visit("utm_content", "UTM contents", "UTM content", Event.utm_content, False),
    _visit("browser", "Browsers", "Browser", Event.browser),
    _visit("os", "Operating systems", "Operating system", Event.os),
    _visit("device", "Devices", "Device", Event.device),
    _visit("country", "Countries", "Country", Event.country, False),
    Dimension("event", EVENT, "Goals (custom events)", "Goal", "event:goal", always_shown=True),
    Dimension("prop", PROP, "Event properties", "Property", "event:props"),
)
BY_NAME = {d.name: d for d in DIMENSIONS}
NAMES = tuple(d.name for d in DIMENSIONS)
# The visit attributes read from columns, in their column order.
ATTRIBUTES = tuple(d for d in DIMENSIONS if d.attribute)
# Plausible's names of the same dimensions (``event:name`` is a second name for goals).
PLAUSIBLE = {d.plausible: d.name for d in DIMENSIONS if d.kind != PROP} | {"event:name": "event"}


def get(name: str) -> Dimension | None:
    """Return the dimension called ``name``, if there is one."""
    return BY_NAME.get(name)

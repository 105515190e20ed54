"""The answers of the analytics JSON API (`/v1/analytics/...`), as :mod:`.dashboard` builds them.

Definitions of each figure are in :mod:`avowal.analytics.dashboard`.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

Percent = float | None
Seconds = int | None


class SiteListed(BaseModel):
    """A counted site."""

    domain: str
    shared: bool = Field(description="Whether the site has a share link.")


class SiteList(BaseModel):
    """The counted sites."""

    sites: list[SiteListed]


class Totals(BaseModel):
    """The headline figures of a range."""

    visitors: int = Field(description="Unique visitors: the sum of each day's.")
    visits: int
    pageviews: int
    events: int = Field(description="Custom events (every event but page views).")
    bounce_rate: Percent = Field(description="Bounced visits in percent of visits.")
    visit_duration: Seconds = Field(description="Average seconds per visit.")
    views_per_visit: float | None


class Change(BaseModel):
    """Each figure's change: percent of the previous value; points for the bounce rate."""

    visitors: Percent
    visits: Percent
    pageviews: Percent
    events: Percent
    bounce_rate: Percent
    visit_duration: Percent
    views_per_visit: Percent


class _Range(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    start: str = Field(alias="from", description="First UTC day, YYYY-MM-DD.")
    end: str = Field(alias="to", description="Last UTC day, YYYY-MM-DD.")


class PreviousPeriod(_Range):
    """The figures of the period before, of the same length."""

    totals: Totals


class _Head(_Range):
    site: str
    days: int
    filters: list[str] = Field(description="The filters that hold, as given.")
    basis: Literal["rollups", "raw_events", "clickhouse"] = Field(
        description="Where the figures come from: rollups, or raw events for filtered "
        "requests; `clickhouse` when events are kept in ClickHouse (its raw events, and the "
        "rollups of days past their retention)."
    )
    sample_percent: float | None = Field(
        description="The percentage of visitors the figures are estimated from, each count "
        "scaled up to the whole (a filtered view of a large site on ClickHouse, see "
        "`AVOWAL_ANALYTICS_SAMPLE_VISITS`); null when the figures are exact. Ask with "
        "`exact=true` for exact figures."
    )


class Summary(_Head):
    """A site's totals over a range; with ``compare=previous`` also the previous period's."""

    totals: Totals
    previous: PreviousPeriod | None
    change: Change | None


class Money(BaseModel):
    """An amount in one currency."""

    currency: str = Field(description="ISO 4217, e.g. EUR.")
    amount: str = Field(description="A decimal string, e.g. 37.5.")


class BreakdownRow(BaseModel):
    """One value of a dimension; the figures given depend on the dimension."""

    value: str
    visitors: int
    visits: int | None = None
    pageviews: int | None = None
    events: int | None = None
    bounce_rate: Percent = None
    visit_duration: Seconds = None
    time_on_page: Seconds = Field(
        None,
        description="Pages: average engaged seconds of the visits that reported engagement, "
        "else seconds to the next page view.",
    )
    scroll_depth: Percent = Field(
        None, description="Pages: average deepest scroll of the visits that reported it."
    )
    entrances: int | None = Field(None, description="Entry pages: visits that began there.")
    exits: int | None = Field(None, description="Exit pages: visits that ended there.")
    exit_rate: Percent = Field(None, description="Exit pages: exits in percent of its views.")
    conversion_rate: Percent = Field(
        None, description="Events and props: visitors in percent of all visitors."
    )
    revenue: list[Money] | None = Field(
        None, description="Goals (events): the revenue's sum per currency, if any."
    )


class Breakdown(_Head):
    """The top values of a dimension over a range."""

    dimension: str
    rows: list[BreakdownRow]


class Point(BaseModel):
    """The figures of one day or one UTC hour (hours have no bounce rate or duration)."""

    t: str = Field(description="The day (YYYY-MM-DD) or hour (YYYY-MM-DDTHH:00:00Z).")
    visitors: int
    visits: int
    pageviews: int
    events: int
    bounce_rate: Percent
    visit_duration: Seconds


class Timeseries(_Head):
    """The points of a range: per day over two days, per hour otherwise."""

    interval: Literal["day", "hour"]
    points: list[Point]
    previous: list[Point] | None = Field(
        description="With compare=previous: the previous period's points."
    )


class RealtimePage(BaseModel):
    """A page viewed in the last minutes."""

    value: str
    visitors: int


class Realtime(BaseModel):
    """The visitors and page views of the last minutes, and their top pages."""

    minutes: int
    since: str = Field(description="Start of the window, UTC.")
    visitors: int
    pageviews: int
    pages: list[RealtimePage]

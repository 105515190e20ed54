"""The Stats API's requests and answers (`/api/v1/stats/...`, `/api/v2/query`), as Plausible's.

The figures and what each one means are :mod:`avowal.analytics.dashboard`'s; which of Plausible's
metrics, properties, periods and filters are supported is in :mod:`avowal.analytics.stats_query`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

Figure = int | float | None


class StatsError(BaseModel):
    """A refusal, as Plausible answers one: only the message."""

    error: str = Field(description="What is wrong, naming the parameter, metric or property.")


class MetricValue(BaseModel):
    """One metric of an aggregate; with ``compare=previous_period`` also the previous period's."""

    model_config = ConfigDict(extra="forbid")

    value: Figure
    comparison_value: Figure = Field(None, description="With compare: the previous period's.")
    change: float | None = Field(
        None,
        description="With compare: percent of the previous value (None when it was 0); "
        "percentage points for the bounce rate.",
    )


class Aggregate(BaseModel):
    """`GET /api/v1/stats/aggregate`: each metric asked for, by name."""

    results: dict[str, MetricValue]


class Rows(BaseModel):
    """`GET /api/v1/stats/timeseries` and `/breakdown`: one object per date or per value.

    A timeseries row holds ``date`` and the metrics; a breakdown row the property's short name
    (``page``, ``source``, ``utm_campaign``, a custom property's own name...) and the metrics
    (a goal's ``total_revenue`` and ``average_revenue`` as objects: see :class:`QueryRow`).
    """

    results: list[dict[str, Any]]


class QueryRequest(BaseModel):
    """`POST /api/v2/query`: what Plausible's query object holds."""

    model_config = ConfigDict(extra="forbid")

    site_id: str = Field(max_length=253, description="The site's domain.")
    metrics: list[str] = Field(min_length=1, max_length=20)
    date_range: str | list[str] = Field(
        description='A period ("day", "7d", "28d", "30d", "91d", "month", "6mo", "12mo", '
        '"year") or two dates ["YYYY-MM-DD", "YYYY-MM-DD"].'
    )
    dimensions: list[str] = Field(default_factory=list, max_length=4)
    filters: list[Any] = Field(default_factory=list, max_length=8)
    order_by: list[list[str]] | None = Field(None, max_length=8)
    include: dict[str, Any] = Field(default_factory=dict)
    pagination: dict[str, int] | None = None


class QueryRow(BaseModel):
    """One row: the metrics in the order asked, the dimensions' values in the order asked."""

    # A revenue is an inline object rather than a named model: generated clients do not follow
    # a model's reference inside a list of alternatives.
    metrics: list[Figure | dict[str, str | float]] = Field(
        description="Numbers or null; a goal's total_revenue and average_revenue are objects as "
        'Plausible answers them, {"short": "€1.2K", "long": "€1,234.50", "value": 1234.5, '
        '"currency": "EUR"} (null for a goal without revenue, or with revenue in several '
        "currencies)."
    )
    dimensions: list[str]


class QueryAnswer(BaseModel):
    """`POST /api/v2/query`'s answer: rows, meta information and the query as executed."""

    results: list[QueryRow]
    meta: dict[str, Any]
    query: dict[str, Any]

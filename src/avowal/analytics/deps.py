"""Request parameters of the analytics dashboards, shared by the JSON API and the console.

The range (``from``, ``to``), ``compare`` and ``filter`` parameters are parsed here once, with
the reader of the figures they select and the CSV answer of an export, so that neither router
imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Annotated

from fastapi import Depends, Query
from fastapi.responses import Response
from sqlalchemy.orm import Session

from avowal.analytics import dashboard, query
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.readers import Reader
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings

MAX_FILTERS = 4


@dataclass(frozen=True)
class Params:
    """The range, comparison and filters of a request, as given."""

    start: str | None
    end: str | None
    compare: str | None
    filters: list[str]
    exact: bool = False


def params(
    start: Annotated[
        str | None, Query(alias="from", max_length=40, description="First UTC day, YYYY-MM-DD.")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", max_length=40, description="Last UTC day, YYYY-MM-DD.")
    ] = None,
    compare: Annotated[
        str | None, Query(max_length=40, description="`previous`: compare with the period before.")
    ] = None,
    filters: Annotated[
        list[str] | None,
        Query(
            alias="filter",
            max_length=MAX_FILTERS,
            description="`kind:value` (visits with it) or `kind!:value` (visits without it), "
            "kind any dimension: `page:/pricing`, `source:Google`, `country!:FR`, "
            "`event:Signup`, `prop:plan=pro`...; repeat to combine (all must hold).",
        ),
    ] = None,
    exact: Annotated[
        bool,
        Query(
            description="`true`: exact figures, where a filtered view of a large site on "
            "ClickHouse would be estimated from a sample of its visitors (slower).",
        ),
    ] = False,
) -> Params:
    """Collect the common dashboard parameters."""
    return Params(start, end, compare, list(filters or []), exact)


ParamsDep = Annotated[Params, Depends(params)]


def parse(
    session: Session, settings: Settings, policy: LoadedPolicy, domain: str, given: Params
) -> tuple[query.Query, Reader]:
    """Parse a request for ``domain`` and return it with the reader of its figures."""
    parsed = query.parse(
        session,
        domain,
        start=given.start,
        end=given.end,
        compare=given.compare,
        filters=given.filters,
        today=clock.now().date(),
        retention_days=policy.policy.analytics.raw_retention_days,
    )
    source = dashboard.reader(
        session,
        parsed,
        visit_minutes=settings.analytics_visit_minutes,
        budget=settings.analytics_filter_budget_seconds,
        clickhouse=clickhouse_events.of(settings),
        sample_visits=0 if given.exact else settings.analytics_sample_visits,
    )
    return parsed, source


def csv_response(text: str, filename: str) -> Response:
    """Answer CSV text as a download."""
    return Response(
        text,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{filename}"'},
    )


def export_csv(
    session: Session,
    settings: Settings,
    policy: LoadedPolicy,
    domain: str,
    given: Params,
    table: str,
) -> Response:
    """Answer one table (or the time series) of a site's dashboard as CSV: exact figures,
    never a sample's (a CSV file has nowhere to say it is an estimate)."""
    parsed, source = parse(session, settings, policy, domain, replace(given, exact=True))
    if table not in dashboard.TABLES:
        raise query.InvalidQuery(
            f"no table '{table[:40]}' to export", field="table", known=list(dashboard.TABLES)
        )
    r = parsed.range
    name = f"{parsed.domain}-{table}-{r.start}-{r.end}.csv"
    return csv_response(dashboard.export(source, parsed, table), name)

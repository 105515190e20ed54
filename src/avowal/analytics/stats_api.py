"""Plausible's Stats API: `GET /api/v1/stats/...` and `POST /api/v2/query`.

A Plausible client, dashboard or Grafana plugin sends ``Authorization: Bearer <key>``: here the
key is a service token (``avowal token create``) whose role grants the policy's analytics purpose
(``analytics.reporting``), like `/v1/analytics/sites`. Like those routes, a call reads on a
read-only session and is not audited: analytics figures are not personal data.

Refusals are Plausible's shape, ``{"error": "..."}``: these routes answer avowal's refusals
(and invalid parameters, 400 as Plausible answers them) themselves rather than through the
app's handlers (:mod:`avowal.lib.errors`), whose Problem shape Plausible clients do not read.
Failures outside a route (a body too large, storage down) keep the app's shape.
"""

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, Response
from fastapi.routing import APIRoute

from avowal.analytics import dashboard, stats_v2
from avowal.analytics import stats_answers as answers
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.stats_answers import Context, Site
from avowal.analytics.stats_schemas import Aggregate, QueryAnswer, QueryRequest, Rows, StatsError
from avowal.callers.deps import ReadCallerDep
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, ReadSessionDep, SettingsDep
from avowal.lib.errors import AvowalError


class PlausibleRoute(APIRoute):
    """A route whose refusals are Plausible's ``{"error": message}``."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handler = super().get_route_handler()

        async def answer(request: Request) -> Response:
            try:
                return await handler(request)
            except AvowalError as exc:
                return JSONResponse(
                    {"error": exc.message}, status_code=exc.status_code, headers=exc.headers
                )
            except RequestValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {}
                where = ".".join(str(p) for p in first.get("loc", ()))
                text = f"{where}: {first.get('msg', 'invalid')}" if where else "invalid request"
                return JSONResponse({"error": f"Invalid request: {text}"[:300]}, status_code=400)

        return answer


router = APIRouter(tags=["stats"], route_class=PlausibleRoute)
# The paths answering refusals in Plausible's shape (avowal.lib.openapi documents them so).
OWN_ERROR_PATHS = ("/api/v1/stats/", "/api/v2/")

REFUSALS: dict[int | str, dict[str, Any]] = {
    400: {"model": StatsError, "description": "An invalid or unsupported parameter, named."},
    401: {"model": StatsError, "description": "No valid service token (Bearer)."},
    403: {"model": StatsError, "description": "The token's role does not grant analytics."},
    404: {"model": StatsError, "description": "No counted site with this site_id."},
    503: {
        "model": StatsError,
        "description": "Filtered figures still being prepared from raw events: ask again after "
        "`Retry-After` seconds.",
    },
}
SiteParam = Annotated[
    str | None, Query(max_length=253, description="The site's domain.", alias="site_id")
]
Text = Annotated[str | None, Query(max_length=300)]


def authorised(caller: ReadCallerDep, policy: PolicyDep) -> None:
    """Refuse a token whose role does not grant the policy's analytics purpose."""
    caller.require(policy.policy.analytics.purpose)


Authorised = Depends(authorised)


def context(session: ReadSessionDep, settings: SettingsDep, policy: PolicyDep) -> Context:
    """Return what a figure request reads with."""
    return Context(session, settings, policy)


ContextDep = Annotated[Context, Depends(context)]


def _site(ctx: Context, site_id: str | None) -> Site:
    return answers.site(ctx.session, site_id)


@router.get(
    "/api/v1/stats/realtime/visitors",
    response_model=int,
    dependencies=[Authorised],
    responses=REFUSALS,
)
def stats_realtime_visitors(ctx: ContextDep, site_id: SiteParam = None) -> int:
    """Return the visitors of the last 30 minutes (the dashboard's realtime figure)."""
    at = _site(ctx, site_id)
    clickhouse = clickhouse_events.of(ctx.settings)
    visitors: int = dashboard.realtime(ctx.session, at.id, clock.now(), clickhouse)["visitors"]
    return visitors


@router.get(
    "/api/v1/stats/aggregate",
    response_model=Aggregate,
    response_model_exclude_unset=True,
    dependencies=[Authorised],
    responses=REFUSALS,
)
def stats_aggregate(
    ctx: ContextDep,
    site_id: SiteParam = None,
    period: Text = None,
    date: Text = None,
    metrics: Text = None,
    filters: Text = None,
    compare: Text = None,
) -> dict[str, Any]:
    """Return metrics over a period (Plausible's aggregate)."""
    at = _site(ctx, site_id)
    return answers.aggregate(
        ctx,
        at,
        period=period,
        date=date,
        metrics=metrics,
        filters=filters,
        compare=compare,
    )


@router.get(
    "/api/v1/stats/timeseries",
    response_model=Rows,
    dependencies=[Authorised],
    responses=REFUSALS,
)
def stats_timeseries(
    ctx: ContextDep,
    site_id: SiteParam = None,
    period: Text = None,
    date: Text = None,
    metrics: Text = None,
    filters: Text = None,
    interval: Text = None,
) -> dict[str, Any]:
    """Return metrics per day, hour or month of a period (Plausible's timeseries)."""
    at = _site(ctx, site_id)
    return answers.timeseries(
        ctx,
        at,
        period=period,
        date=date,
        metrics=metrics,
        filters=filters,
        interval=interval,
    )


@router.get(
    "/api/v1/stats/breakdown",
    response_model=Rows,
    dependencies=[Authorised],
    responses=REFUSALS,
)
def stats_breakdown(
    ctx: ContextDep,
    site_id: SiteParam = None,
    period: Text = None,
    date: Text = None,
    metrics: Text = None,
    filters: Text = None,
    property: Text = None,
    limit: Text = None,
    page: Text = None,
) -> dict[str, Any]:
    """Return metrics per value of a property (Plausible's breakdown)."""
    at = _site(ctx, site_id)
    return answers.breakdown(
        ctx,
        at,
        period=period,
        date=date,
        metrics=metrics,
        filters=filters,
        prop_name=property,
        limit=limit,
        page=page,
    )


@router.post(
    "/api/v2/query",
    response_model=QueryAnswer,
    dependencies=[Authorised],
    responses=REFUSALS,
)
def stats_query(ctx: ContextDep, body: QueryRequest) -> dict[str, Any]:
    """Answer a query of Plausible's Stats API v2 (metrics, dimensions, filters, date range)."""
    at = _site(ctx, body.site_id)
    return stats_v2.run(ctx, at, body)

"""The analytics JSON API: `/v1/analytics/sites/{domain}/...` and `/v1/analytics/share/{token}/...`.

Site routes need a service token whose role grants the policy's analytics purpose
(``analytics.reporting``); staff in the console use `/console/analytics` (their session cookie
is scoped to `/console`). Share routes need only the token of the site's share link.

Every figure route takes ``from`` and ``to`` (UTC days, ``YYYY-MM-DD``; default the last 30 days),
``compare=previous`` and up to four ``filter=kind:value`` or ``filter=kind!:value`` (the visits
without it), ``kind`` any dimension of :mod:`avowal.analytics.dimensions` (all must hold;
filtered figures are computed from raw events, see :mod:`avowal.analytics.readers`).

Annotations are evaluated at definition (no ``from __future__ import annotations``): the figure
routes are defined twice by :func:`_install`, with a dependency local to each call.
"""

from collections.abc import Callable
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Query
from fastapi.responses import Response
from sqlalchemy import select

from avowal.analytics import dashboard, query, share
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.dashboard_schemas import Breakdown, Realtime, SiteList, Summary, Timeseries
from avowal.analytics.deps import ParamsDep, export_csv, parse
from avowal.analytics.models import Site
from avowal.callers.deps import ReadCallerDep
from avowal.lib import clock, problems
from avowal.lib.deps import PolicyDep, ReadSessionDep, SettingsDep

router = APIRouter(prefix="/v1/analytics", tags=["analytics"])


def authorised_site(
    domain: Annotated[str, Path(max_length=253)], caller: ReadCallerDep, policy: PolicyDep
) -> str:
    """Return the site's domain if the caller's role grants the analytics purpose."""
    caller.require(policy.policy.analytics.purpose)
    return domain


def shared_site(token: Annotated[str, Path(max_length=64)], session: ReadSessionDep) -> str:
    """Return the domain of a share link's site."""
    return share.resolve(session, token)


@router.get("/sites", response_model=SiteList, responses=problems.responses(401, 403, 503))
def list_analytics_sites(
    session: ReadSessionDep, caller: ReadCallerDep, policy: PolicyDep
) -> dict[str, Any]:
    """List the analytics sites."""
    caller.require(policy.policy.analytics.purpose)
    rows = session.execute(select(Site.domain, Site.share_token_hash).order_by(Site.domain))
    return {"sites": [{"domain": r.domain, "shared": r.share_token_hash is not None} for r in rows]}


def _install(prefix: str, site: Callable[..., str], name: str, errors: tuple[int, ...]) -> None:
    """Add the figure routes under ``prefix`` for sites resolved by the dependency ``site``.

    Their operation ids are ``{name}_summary``, ``{name}_breakdown``...; ``errors`` are the
    statuses ``site`` may answer besides those of a figure request.
    """
    Domain = Annotated[str, Depends(site)]
    # 400: an invalid range, comparison or filter; 404: an unknown site or dimension.
    refusals = problems.responses(*sorted({400, 404, 422, 503, *errors}))

    @router.get(
        f"{prefix}/summary",
        operation_id=f"{name}_summary",
        response_model=Summary,
        responses=refusals,
    )
    def summary(
        domain: Domain,
        session: ReadSessionDep,
        settings: SettingsDep,
        policy: PolicyDep,
        given: ParamsDep,
    ) -> dict[str, Any]:
        """Return unique visitors, visits, page views, bounce rate and visit duration."""
        parsed, source = parse(session, settings, policy, domain, given)
        return dashboard.summary(source, parsed)

    @router.get(
        f"{prefix}/breakdown/{{dimension}}",
        operation_id=f"{name}_breakdown",
        response_model=Breakdown,
        # Each dimension has its own columns: a row holds exactly those.
        response_model_exclude_unset=True,
        responses=refusals,
    )
    def breakdown(
        domain: Domain,
        dimension: Annotated[str, Path(max_length=24)],
        session: ReadSessionDep,
        settings: SettingsDep,
        policy: PolicyDep,
        given: ParamsDep,
        limit: Annotated[int, Query(ge=1, le=dashboard.MAX_LIMIT)] = dashboard.DEFAULT_LIMIT,
    ) -> dict[str, Any]:
        """Return the top values of a dimension (page, source, utm_campaign, device, ...)."""
        parsed, source = parse(session, settings, policy, domain, given)
        return dashboard.breakdown(source, parsed, dimension, limit)

    @router.get(
        f"{prefix}/timeseries",
        operation_id=f"{name}_timeseries",
        response_model=Timeseries,
        responses=refusals,
    )
    def timeseries(
        domain: Domain,
        session: ReadSessionDep,
        settings: SettingsDep,
        policy: PolicyDep,
        given: ParamsDep,
    ) -> dict[str, Any]:
        """Return the figures per day (ranges over two days) or per hour."""
        parsed, source = parse(session, settings, policy, domain, given)
        return dashboard.timeseries(source, parsed)

    @router.get(
        f"{prefix}/realtime",
        operation_id=f"{name}_realtime",
        response_model=Realtime,
        responses=problems.responses(*sorted({404, 422, 503, *errors})),
    )
    def realtime(domain: Domain, session: ReadSessionDep, settings: SettingsDep) -> dict[str, Any]:
        """Return the visitors of the last 30 minutes."""
        site_id, _ = query.site(session, domain)
        return dashboard.realtime(session, site_id, clock.now(), clickhouse_events.of(settings))

    @router.get(
        f"{prefix}/export.csv",
        operation_id=f"{name}_export_csv",
        response_class=Response,
        responses={
            200: {
                "description": "The table as CSV, with a header line.",
                "content": {"text/csv": {"schema": {"type": "string"}}},
            },
            **refusals,
        },
    )
    def export(
        domain: Domain,
        session: ReadSessionDep,
        settings: SettingsDep,
        policy: PolicyDep,
        given: ParamsDep,
        table: Annotated[str, Query(max_length=24, description="A dimension or timeseries.")],
    ) -> Response:
        """Download a dimension's table, or the time series, as CSV."""
        return export_csv(session, settings, policy, domain, given, table)


# 401: no valid service token; 403: its role does not grant the analytics purpose.
_install("/sites/{domain}", authorised_site, "site", (401, 403))
# 404: no share link with this token.
_install("/share/{token}", shared_site, "shared_site", ())

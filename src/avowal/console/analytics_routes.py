"""The analytics dashboard pages: `/console/analytics` for staff, `/share/{token}` for share links.

Staff need a console account whose role grants the policy's analytics purpose
(``analytics.reporting``); a share link shows one site read-only to anyone holding it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy import select

from avowal.analytics import share
from avowal.analytics.deps import ParamsDep, export_csv
from avowal.analytics.exceptions import FiltersPending
from avowal.analytics.models import Site
from avowal.analytics.query import InvalidQuery, UnknownSite
from avowal.analytics.share import ShareLinkInvalid
from avowal.console import nav, pages
from avowal.console.analytics_chart import METRICS
from avowal.console.analytics_view import Links, build, params_of
from avowal.console.deps import AccessDenied, StaffAccess, StaffContext
from avowal.lib.deps import PolicyDep, SessionDep, SettingsDep
from avowal.policy.loader import LoadedPolicy

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
share_router = APIRouter(tags=["analytics"], include_in_schema=False)

STYLESHEET = "/console/static/analytics.css"
Metric = Annotated[str, Query(max_length=16)]


def _render(
    *, title: str, staff: StaffContext | None, status_code: int = 200, **context: Any
) -> HTMLResponse:
    html = (
        pages.environment()
        .get_template("analytics.html")
        .render(
            title=title,
            staff=staff,
            active="analytics",
            stylesheet=STYLESHEET,
            **context,
        )
    )
    return HTMLResponse(html, status_code=status_code, headers=pages.NO_STORE)


def _require_reporting(ctx: StaffContext, policy: LoadedPolicy) -> None:
    purpose = policy.policy.analytics.purpose
    if ctx.caller is None or not nav.may_read_analytics(ctx.caller, policy):
        raise AccessDenied(
            f"the role '{ctx.account.role}' does not grant the purpose '{purpose}' "
            "that analytics figures are read for"
        )


def _metric(value: str) -> str:
    return value if value in METRICS else "visitors"


@router.get("/analytics", response_class=HTMLResponse)
def analytics_page(
    ctx: StaffAccess,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    given: ParamsDep,
    site: Annotated[str | None, Query(max_length=253)] = None,
    metric: Metric = "visitors",
) -> Response:
    """Show a site's dashboard to staff whose role grants analytics reporting."""
    _require_reporting(ctx, policy)
    domains = list(session.scalars(select(Site.domain).order_by(Site.domain)))
    domain = site or (domains[0] if domains else "")
    metric = _metric(metric)
    common: dict[str, Any] = {
        "domains": domains,
        "shared": False,
        "view": None,
        "error": None,
        "domain": domain,
        "given": given,
        "metric": metric,
    }
    if not domains:
        return _render(title="Analytics", staff=ctx, **common)
    links = Links("/console/analytics", params_of(given, metric, [("site", domain)]))
    try:
        view = build(
            session,
            settings,
            policy,
            domain,
            given,
            metric=metric,
            links=links,
            csv_path="/console/analytics/export.csv",
        )
    except (InvalidQuery, UnknownSite, FiltersPending) as exc:
        answer = _render(
            title="Analytics",
            staff=ctx,
            status_code=exc.status_code,
            **{**common, "error": exc.message},
        )
        answer.headers.update(exc.headers or {})
        return answer
    return _render(
        title=f"Analytics · {domain}",
        staff=ctx,
        **{**common, "view": view},
    )


@router.get("/analytics/export.csv", response_class=Response)
def console_export(
    ctx: StaffAccess,
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    given: ParamsDep,
    site: Annotated[str, Query(max_length=253)],
    table: Annotated[str, Query(max_length=24)],
) -> Response:
    """Download a table of a site's dashboard as CSV (staff)."""
    _require_reporting(ctx, policy)
    return export_csv(session, settings, policy, site, given, table)


@share_router.get("/share/{token}", response_class=HTMLResponse)
def shared_page(
    token: Annotated[str, Path(max_length=64)],
    session: SessionDep,
    settings: SettingsDep,
    policy: PolicyDep,
    given: ParamsDep,
    metric: Metric = "visitors",
) -> Response:
    """Show a site's dashboard, read-only, to whoever holds its share link."""
    try:
        domain = share.resolve(session, token)
    except ShareLinkInvalid as exc:
        return pages.message("Share link not valid", exc.message, status_code=404)
    metric = _metric(metric)
    links = Links(f"/share/{token}", params_of(given, metric))
    common: dict[str, Any] = {
        "domains": [],
        "shared": True,
        "view": None,
        "error": None,
        "domain": domain,
        "given": given,
        "metric": metric,
    }
    try:
        view = build(
            session,
            settings,
            policy,
            domain,
            given,
            metric=metric,
            links=links,
            csv_path=f"/v1/analytics/share/{token}/export.csv",
        )
    except (InvalidQuery, FiltersPending) as exc:
        answer = _render(
            title=domain,
            staff=None,
            status_code=exc.status_code,
            **{**common, "error": exc.message},
        )
        answer.headers.update(exc.headers or {})
        return answer
    return _render(
        title=f"{domain} analytics",
        staff=None,
        **{**common, "view": view},
    )

"""Break-glass in the console: start a time-boxed grant with a justification, see it, end it.

While a grant runs, the people pages read through the grant's caller (any purpose, every audit
entry flagged, see :mod:`avowal.console.people_routes`). The rules are
:mod:`avowal.legal.break_glass`'s; privacy officers also see, and may end, everyone's grants.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from avowal.console import pages
from avowal.console.deps import StaffAccess, StaffAccessForm, StaffContext
from avowal.console.people_routes import minutes_left
from avowal.legal import break_glass
from avowal.legal import service as legal
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, SessionDep, SettingsDep
from avowal.lib.errors import AvowalError
from avowal.settings import Settings

router = APIRouter(prefix="/console/break-glass", tags=["console"], include_in_schema=False)

GrantId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
HISTORY = 20
DEFAULT_MINUTES = 30


def _page(
    ctx: StaffContext,
    session: Session,
    settings: Settings,
    *,
    justification: str = "",
    minutes: int | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert ctx.caller is not None
    now = clock.now()
    grant = break_glass.active_grant(session, ctx.account, now)
    officer = ctx.caller.grants(legal.LEGAL_PURPOSE)
    grants = break_glass.list_grants(session, now)
    mine = [g for g in grants if g.account == ctx.account.email][:HISTORY]
    others = [g for g in grants if g.state == "active" and g.account != ctx.account.email]
    longest = settings.break_glass_max_minutes
    return pages.render(
        "break_glass.html",
        title="Break-glass access",
        staff=ctx,
        active="break_glass",
        status_code=status_code,
        grant=grant,
        minutes_left=minutes_left(grant),
        mine=mine,
        others=others if officer else [],
        officer=officer,
        longest=longest,
        justification=justification,
        minutes=minutes or min(DEFAULT_MINUTES, longest),
        min_justification=break_glass.MIN_JUSTIFICATION,
        error=error,
    )


@router.get("", response_class=HTMLResponse)
def break_glass_page(ctx: StaffAccess, session: SessionDep, settings: SettingsDep) -> Response:
    """Show the running grant (time left, End) or the form starting one, and past grants."""
    return _page(ctx, session, settings)


@router.post("/start", response_class=HTMLResponse)
def break_glass_start(
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    justification: Annotated[str, Form(max_length=break_glass.MAX_JUSTIFICATION + 100)] = "",
    minutes: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Start a grant: any purpose for a few minutes, with a stated justification."""
    try:
        length = int(minutes)
    except ValueError:
        return _page(
            ctx,
            session,
            settings,
            justification=justification,
            error="give the length of the grant in whole minutes",
            status_code=422,
        )
    try:
        break_glass.start(session, policy, settings, ctx.account, justification, length)
    except AvowalError as exc:
        session.rollback()
        return _page(
            ctx,
            session,
            settings,
            justification=justification,
            minutes=length if length > 0 else None,
            error=exc.message,
            status_code=exc.status_code,
        )
    return pages.redirect("/console/break-glass")


@router.post("/{grant_id}/end", response_class=HTMLResponse)
def break_glass_end(
    grant_id: GrantId,
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
) -> Response:
    """End a running grant: its holder, or a privacy officer, may."""
    try:
        break_glass.end(session, policy, ctx.account, grant_id)
    except AvowalError as exc:
        session.rollback()
        return _page(ctx, session, settings, error=exc.message, status_code=exc.status_code)
    return pages.redirect("/console/break-glass")

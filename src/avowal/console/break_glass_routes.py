"""Break-glass in the console: ask for or start a time-boxed grant, approve one, see it, end it.

While a grant runs, the people pages read through the grant's caller (any purpose, every audit
entry flagged, see :mod:`avowal.console.people_routes`). The rules are
:mod:`avowal.legal.break_glass`'s, from the policy's ``staff.break_glass``: who may open a grant
(others see why not, and a forged form is refused 403 and audited), how long, whether a second
person approves it first, and who is told. Privacy officers, approvers and the roles the policy
has told see everyone's grants; privacy officers and approvers may end them.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from avowal.console import pages
from avowal.console.deps import StaffAccess, StaffAccessForm, StaffContext
from avowal.legal import break_glass
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, SessionDep, settle
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import LEGAL_OBLIGATION

router = APIRouter(prefix="/console/break-glass", tags=["console"], include_in_schema=False)

GrantId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
HISTORY = 20
DEFAULT_MINUTES = 30


def _page(
    ctx: StaffContext,
    session: Session,
    policy: LoadedPolicy,
    *,
    justification: str = "",
    minutes: int | None = None,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert ctx.caller is not None
    now = clock.now()
    rule = break_glass.rule(policy)
    grant = break_glass.active_grant(session, ctx.account, now)
    pending = break_glass.pending_grant(session, ctx.account, now)
    officer = ctx.caller.grants(LEGAL_OBLIGATION)
    approver = ctx.account.role in rule.approvers
    overseer = officer or approver or ctx.account.role in rule.notify
    grants = break_glass.list_grants(session, now)
    mine = [g for g in grants if g.account == ctx.account.email][:HISTORY]
    others = [
        g for g in grants if g.state in ("active", "pending") and g.account != ctx.account.email
    ]
    longest = rule.max_minutes
    return pages.render(
        "break_glass.html",
        title="Break-glass access",
        staff=ctx,
        active="break_glass",
        status_code=status_code,
        grant=grant,
        pending=pending,
        minutes_left=break_glass.minutes_left(grant, now),
        mine=mine,
        others=others if overseer else [],
        overseer=overseer,
        may_end_others=officer or approver,
        approver=approver,
        allowed=break_glass.may_open(policy, ctx.account),
        rule=rule,
        longest=longest,
        justification=justification,
        minutes=minutes or min(DEFAULT_MINUTES, longest),
        min_justification=break_glass.MIN_JUSTIFICATION,
        error=error,
    )


@router.get("", response_class=HTMLResponse)
def break_glass_page(ctx: StaffAccess, session: SessionDep, policy: PolicyDep) -> Response:
    """Show the running grant (time left, End) or the form starting one, and past grants."""
    return _page(ctx, session, policy)


@router.post("/start", response_class=HTMLResponse)
def break_glass_start(
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    justification: Annotated[str, Form(max_length=break_glass.MAX_JUSTIFICATION + 100)] = "",
    minutes: Annotated[str, Form(max_length=8)] = "",
) -> Response:
    """Start a grant (or ask for one): any purpose for a few minutes, with a justification."""
    try:
        length = int(minutes)
    except ValueError:
        return _page(
            ctx,
            session,
            policy,
            justification=justification,
            error="give the length of the grant in whole minutes",
            status_code=422,
        )
    try:
        break_glass.start(session, policy, ctx.account, justification, length)
    except AvowalError as exc:
        settle(session, exc)
        return _page(
            ctx,
            session,
            policy,
            justification=justification,
            minutes=length if length > 0 else None,
            error=exc.message,
            status_code=exc.status_code,
        )
    return pages.redirect("/console/break-glass")


@router.post("/{grant_id}/approve", response_class=HTMLResponse)
def break_glass_approve(
    grant_id: GrantId, ctx: StaffAccessForm, session: SessionDep, policy: PolicyDep
) -> Response:
    """Approve someone else's pending grant (a role under staff.break_glass.approvers)."""
    try:
        break_glass.approve(session, policy, ctx.account, grant_id)
    except AvowalError as exc:
        settle(session, exc)
        return _page(ctx, session, policy, error=exc.message, status_code=exc.status_code)
    return pages.redirect("/console/break-glass")


@router.post("/{grant_id}/end", response_class=HTMLResponse)
def break_glass_end(
    grant_id: GrantId, ctx: StaffAccessForm, session: SessionDep, policy: PolicyDep
) -> Response:
    """End a running grant (or withdraw a pending one): its holder, a privacy officer or an
    approver may."""
    try:
        break_glass.end(session, policy, ctx.account, grant_id)
    except AvowalError as exc:
        settle(session, exc)
        return _page(ctx, session, policy, error=exc.message, status_code=exc.status_code)
    return pages.redirect("/console/break-glass")

"""The internal review in the console: a printable page in the console's frame, its JSON, and
the review's stylesheet (the CLI's standalone page links the same one).

The review reads the audit chain and staff records, never a personal value; it is still the
privacy officers' work (the role that "runs internal reviews"), so only roles granting
``essential.legal_obligation`` see it.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from fastapi import APIRouter, Query, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from sqlalchemy.orm import Session

from avowal.console import nav, pages
from avowal.console.deps import AccessDenied, ConsoleRefusal, StaffAccess, StaffContext
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, SessionDep, SettingsDep
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import LEGAL_OBLIGATION
from avowal.review import render
from avowal.review import service as review_service
from avowal.review.schemas import Review
from avowal.settings import Settings

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)
assets = APIRouter(include_in_schema=False)

Since = Annotated[str, Query(max_length=10, description="First day reviewed, YYYY-MM-DD.")]


class InvalidSince(ConsoleRefusal):
    status_code = 422
    error = "invalid_since"
    title = "Date not valid"


def _require_reviewer(ctx: StaffContext) -> None:
    if ctx.caller is None or not nav.may_review(ctx.caller):
        raise AccessDenied(
            f"the role '{ctx.account.role}' does not grant {LEGAL_OBLIGATION}: the internal "
            "review is the privacy officers' work"
        )


def _since(text: str) -> dt.date | None:
    if not text:
        return None
    try:
        day = dt.date.fromisoformat(text)
    except ValueError:
        raise InvalidSince(f"'since' is a day as YYYY-MM-DD, not '{text}'") from None
    if day > clock.now().date():
        raise InvalidSince(f"'since' {text} is in the future")
    return day


def _build(
    request: Request, session: Session, policy: LoadedPolicy, settings: Settings, since: str
) -> Review:
    secrets: Secrets = request.app.state.secrets
    return review_service.build(
        session,
        policy,
        settings,
        public_key=secrets.signing_key.public_key(),
        since=_since(since),
    )


@router.get("/review", response_class=HTMLResponse)
def review_page(
    request: Request,
    ctx: StaffAccess,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    since: Since = "",
) -> HTMLResponse:
    """Show the internal review in the console, printable (the console's frame is not printed)."""
    _require_reviewer(ctx)
    review = _build(request, session, policy, settings, since)
    query = f"?since={review.since.isoformat()}" if review.since else ""
    return pages.render(
        "review.html",
        title="Internal review",
        staff=ctx,
        active="review",
        organisation=review.organisation,
        review_stylesheet=render.STYLESHEET.href,
        links=[(f"/console/review.json{query}", "As JSON")],
        # Rendered by the review's own autoescaping templates.
        body=Markup(render.render_fragment(review)),
    )


@router.get("/review.json")
def review_json(
    request: Request,
    ctx: StaffAccess,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    since: Since = "",
) -> Response:
    """Return the internal review as JSON (the same figures as the page)."""
    _require_reviewer(ctx)
    review = _build(request, session, policy, settings, since)
    return Response(
        render.render_json(review), media_type="application/json", headers=pages.NO_STORE
    )


@assets.get(render.STYLESHEET.path)
def review_stylesheet() -> Response:
    """Serve the review page's stylesheet; its URL changes with its content, so cache it long."""
    return render.STYLESHEET.response()

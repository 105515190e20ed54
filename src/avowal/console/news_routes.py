"""Compose news in the console: a message of a kind the policy declares, sent by a staff member.

The page offers the kinds of messages (``communications``) whose purpose the member's role
grants, each with how many people it would reach now; a role granting none gets a 403 page.
Sending goes through :func:`avowal.mail.news.send` with the member as the actor, so the same
rules choose the recipients and the same audit records the send.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import APIRouter, Form
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.console import nav, pages
from avowal.console.deps import AccessDenied, StaffAccess, StaffAccessForm, StaffContext
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep, settle
from avowal.lib.errors import AvowalError
from avowal.mail import news
from avowal.mail.schemas import NewsCreate
from avowal.policy.loader import LoadedPolicy

router = APIRouter(prefix="/console/news", tags=["console"], include_in_schema=False)

Line = Annotated[str, Form(max_length=200)]
Body = Annotated[str, Form(max_length=20_000)]
# How the form names NewsCreate's fields to the member.
LABELS = {"kind": "Kind of message", "subject": "Subject", "text": "Text"}


@dataclass(frozen=True)
class Offered:
    """A kind of message the member may send, and how many people it would reach now."""

    kind: news.NewsKind
    reach: int


def _require_sender(ctx: StaffContext, policy: LoadedPolicy) -> tuple[Caller, list[news.NewsKind]]:
    """Refuse (403 page) a member whose role grants the purpose of no declared kind."""
    caller = ctx.caller
    if caller is None or not nav.may_send_news(caller, policy):
        declared = ", ".join(policy.policy.communications) or "none"
        raise AccessDenied(
            f"the role '{ctx.account.role}' grants the purpose of none of the kinds of messages "
            f"the policy declares (communications: {declared}); news is sent by a role that "
            "grants one"
        )
    return caller, news.kinds_for(policy, caller)


def _form_page(
    ctx: StaffContext,
    session: Session,
    policy: LoadedPolicy,
    kinds: list[news.NewsKind],
    *,
    form: dict[str, str] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    offered = [Offered(k, len(news.recipients(session, policy, k.purpose))) for k in kinds]
    return pages.render(
        "news.html",
        title="Write news",
        staff=ctx,
        active="news",
        status_code=status_code,
        offered=offered,
        declared=policy.policy.communications,
        form=form or {"kind": kinds[0].key or "", "subject": "", "text": ""},
        errors=errors or [],
    )


@router.get("", response_class=HTMLResponse)
def news_form(ctx: StaffAccess, session: SessionDep, policy: PolicyDep) -> Response:
    """Show the form writing news of a kind the member's role may send."""
    _, kinds = _require_sender(ctx, policy)
    return _form_page(ctx, session, policy, kinds)


def _problems(exc: ValidationError) -> list[str]:
    out = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        out.append(f"{LABELS.get(field, field)}: {err['msg']}")
    return out


@router.post("", response_class=HTMLResponse)
def news_send(
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    kind: Line = "",
    subject: Line = "",
    text: Body = "",
) -> Response:
    """Send news of a declared kind to everyone who agreed to its purpose; say how many."""
    caller, kinds = _require_sender(ctx, policy)
    form = {"kind": kind, "subject": subject, "text": text}
    try:
        body = NewsCreate.model_validate(form)
    except ValidationError as exc:
        return _form_page(
            ctx, session, policy, kinds, form=form, errors=_problems(exc), status_code=422
        )
    try:
        what = news.kind_of(policy, body.kind or "")
        try:
            caller.require(what.purpose)
        except PurposeNotGranted as exc:
            raise audit.refuse(
                session,
                exc,
                actor=caller.name,
                role=caller.role,
                action="news",
                purpose=what.purpose,
            ) from None
        sent = news.send(
            session,
            policy,
            secrets,
            settings,
            what,
            body.subject,
            body.text,
            caller.name,
            role=caller.role,
        )
    except AvowalError as exc:
        settle(session, exc)
        return _form_page(
            ctx,
            session,
            policy,
            kinds,
            form=form,
            errors=[exc.message],
            status_code=exc.status_code,
        )
    return pages.render(
        "news_sent.html",
        title="News queued",
        staff=ctx,
        active="news",
        kind=what,
        count=sent.count,
    )

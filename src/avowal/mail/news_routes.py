"""News by service token, and the public unsubscribe page (RFC 8058 one-click too).

``GET /privacy/unsubscribe/{token}`` shows the choice; ``POST`` records the objection, whether
from the page's button or from a mail client's one-click (``List-Unsubscribe=One-Click``).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse

from avowal.audit import service as audit
from avowal.callers.deps import CallerDep
from avowal.callers.exceptions import PurposeNotGranted
from avowal.lib import person_pages, problems
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep
from avowal.lib.errors import AvowalError
from avowal.mail import news, unsubscribe
from avowal.mail.schemas import NewsCreate, NewsSent
from avowal.policy.loader import LoadedPolicy

router = APIRouter()
Token = Annotated[str, Path(max_length=400)]
# RFC 8058: a mail client's one-click POST carries List-Unsubscribe=One-Click.
OneClick = Annotated[str | None, Form(alias="List-Unsubscribe", max_length=20)]


@router.post(
    "/v1/news",
    status_code=201,
    response_model=NewsSent,
    tags=["mail"],
    responses=problems.responses(400, 401, 403, 422, 503),
)
def post_news(
    body: NewsCreate,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> NewsSent:
    """Send news of a declared kind to everyone who agreed to its purpose (the role grants it).

    Name the ``kind``; a policy that declares no ``communications`` takes the ``purpose``
    instead.
    """
    kind = news.requested(policy, body.kind, body.purpose)
    try:
        caller.require(kind.purpose)
    except PurposeNotGranted as exc:
        raise audit.refuse(
            session, exc, actor=caller.name, role=caller.role, action="news", purpose=kind.purpose
        ) from None
    sent = news.send(
        session,
        policy,
        secrets,
        settings,
        kind,
        body.subject,
        body.text,
        caller.name,
        role=caller.role,
    )
    return NewsSent(
        purpose=sent.purpose, kind=sent.kind, count=sent.count, message_ids=sent.message_ids
    )


UNUSABLE = "This link cannot be used"


def _page(
    policy: LoadedPolicy, template: str, title: str, status: int = 200, **values: Any
) -> HTMLResponse:
    return person_pages.page("avowal.mail", "pages", policy, template, title, status, **values)


@router.get("/privacy/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_page(token: Token, policy: PolicyDep, secrets: SecretsDep) -> HTMLResponse:
    """Show the unsubscribe choice for a signed link."""
    try:
        opened = unsubscribe.open_token(secrets, token)
    except AvowalError as exc:
        return _page(
            policy, person_pages.DONE, "This link cannot be used", 404, message=exc.message
        )
    return _page(
        policy,
        "unsubscribe.html",
        "Unsubscribe",
        purpose=person_pages.purpose_label(policy, opened.purpose),
        action=f"/privacy/unsubscribe/{token}",
    )


@router.post("/privacy/unsubscribe/{token}", response_class=HTMLResponse, include_in_schema=False)
def unsubscribe_post(
    token: Token,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    one_click: OneClick = None,
) -> HTMLResponse:
    """Record the objection (idempotent): the page's button, or a mail client's one-click."""
    via = "header" if one_click == "One-Click" else "page"
    try:
        opened = news.object_to(session, secrets, token, via)
    except AvowalError as exc:
        return _page(
            policy, person_pages.DONE, "This link cannot be used", 404, message=exc.message
        )
    return _page(
        policy,
        person_pages.DONE,
        "You are unsubscribed",
        message="You will receive no more messages for "
        f"“{person_pages.purpose_label(policy, opened.purpose)}”.",
    )

"""The parent's notice for a site's form, and the parent's pages served by avowal.

``GET /privacy/parent/{token}`` shows what the child gave, why and for how long, with the
choice; ``POST`` records it (single-use). A confirmation's link opens the withdrawal page.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse

from avowal.children import gate, links, service
from avowal.children.lock import REFUSED
from avowal.children.schemas import ParentNotice
from avowal.lib import clock, person_pages, problems
from avowal.lib.deps import PolicyDep, ReadSessionDep, SecretsDep, SessionDep, SettingsDep
from avowal.lib.errors import AvowalError
from avowal.policy import wording
from avowal.policy.loader import LoadedPolicy
from avowal.vault import repository
from avowal.vault.exceptions import UnknownPoint

router = APIRouter()
Token = Annotated[str, Path(max_length=200)]
Decision = Annotated[str, Form(pattern="^(consent|refuse|revoke)$")]
Refused = Annotated[list[str], Form(max_length=20)]


@router.get(
    "/v1/notices/{point}/parent",
    response_model=ParentNotice,
    tags=["vault"],
    responses=problems.responses(404),
)
def get_parent_notice(point: str, policy: PolicyDep) -> ParentNotice:
    """Show what a child is told when asked for their parent's e-mail address at ``point``."""
    cp = policy.policy.collection_points.get(point)
    if cp is None or not cp.admits_minors or policy.policy.children is None:
        raise UnknownPoint(
            f"'{point}' is not a collection point that admits minors",
            point=point,
            admitting=sorted(
                k for k, p in policy.policy.collection_points.items() if p.admits_minors
            ),
        )
    return gate.parent_notice(policy, point)


def _page(
    policy: LoadedPolicy, template: str, title: str, status: int = 200, **values: Any
) -> HTMLResponse:
    return person_pages.page(
        "avowal.children", "templates", policy, template, title, status, **values
    )


def _problem(policy: LoadedPolicy, exc: AvowalError) -> HTMLResponse:
    title = "This link cannot be used"
    return _page(policy, person_pages.DONE, title, exc.status_code, message=exc.message)


@router.get("/privacy/parent/{token}", response_class=HTMLResponse, include_in_schema=False)
def parent_page(
    token: Token, session: ReadSessionDep, policy: PolicyDep, secrets: SecretsDep
) -> HTMLResponse:
    """Show a parent what their child gave and the choice (or the withdrawal)."""
    try:
        opened = links.open_link(session, secrets, token)
    except AvowalError as exc:
        return _problem(policy, exc)
    row = opened.row
    cp = policy.policy.collection_points.get(row.point)
    title = cp.title if cp is not None else row.point
    action = f"/privacy/parent/{token}"
    if opened.action == links.REVOKE:
        return _page(policy, "revoke.html", "Withdraw your permission", point=title, action=action)
    held = sorted({v.field for v in repository.values_at(session, row.subject_id, row.point)})
    collected, why = service.describe(policy, row.point, held)
    kids = policy.policy.children
    assert kids is not None
    optional = [
        {
            "key": p,
            "label": person_pages.purpose_label(policy, p),
        }
        for p in service.optional_purposes(policy, row.point)
    ]
    return _page(
        policy,
        "answer.html",
        "Your permission is asked",
        point=title,
        under=kids.under,
        collected=collected,
        purposes=why,
        retention=service.retention(policy, row.point),
        optional=optional,
        confirm_after_hours=kids.confirm_after_hours,
        expires=wording.date(clock.aware(row.expires_at).date()),
        action=action,
    )


@router.post("/privacy/parent/{token}", response_class=HTMLResponse, include_in_schema=False)
def parent_answer(
    token: Token,
    decision: Decision,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    refuse: Refused = [],  # noqa: B006 - FastAPI copies defaults
) -> HTMLResponse:
    """Record a parent's answer, or their withdrawal; single-use."""
    outbox = settings.mail_outbox_path
    try:
        if decision == "revoke":
            service.revoke(session, policy, secrets, token, outbox=outbox)
            message = "Your permission is withdrawn: everything your child gave has been erased."
        else:
            row = service.answer(
                session, policy, secrets, token, decision == "consent", refuse, outbox=outbox
            )
            message = (
                "Thank you. Everything your child gave has been erased, and your address too."
                if row.status == REFUSED
                else "Thank you. We will write to you once more to confirm; only then is the data "
                "used."
            )
    except AvowalError as exc:
        session.rollback()
        return _problem(policy, exc)
    return _page(policy, person_pages.DONE, "Your answer is recorded", message=message)

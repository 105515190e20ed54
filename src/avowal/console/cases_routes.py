"""People's questions and requests: the queue at `/console/cases` and each case's page.

Support and the privacy officer handle cases (:func:`avowal.console.nav.may_handle_cases`).
A case's message and address are read through :func:`avowal.vault.access.read` with the staff
member's caller, for the contact point's purpose, so each view is audited. Carrying out a
request on a person's account (access, erasure, withdrawal, objection, rectification) is for a
role that may act on people's rights (the privacy officer); support answers and closes. Every
step goes through :mod:`avowal.rights.case_service` with the staff member as the actor; a
refusal is a page with its message, and nothing is written but the audit of the refusal.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Annotated

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from avowal.console import nav, pages
from avowal.console.deps import AccessDenied, StaffAccess, StaffAccessForm, StaffContext
from avowal.crypto.service import Secrets
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep, settle
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.rights import case_actions, case_service, cases, service
from avowal.rights.case_schemas import KIND_LABELS
from avowal.rights.models import Case
from avowal.vault import access, erasure

router = APIRouter(prefix="/console/cases", tags=["console"], include_in_schema=False)

CASE_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
CaseId = Annotated[str, Path(pattern=CASE_ID)]
Line = Annotated[str, Form(max_length=200)]
Body = Annotated[str, Form(max_length=20_000)]


def _require_handler(ctx: StaffContext) -> None:
    """Refuse (403 page) a member whose role handles no cases."""
    if ctx.caller is None or not nav.may_handle_cases(ctx.caller):
        raise AccessDenied(
            f"the role '{ctx.account.role}' does not handle people's questions and requests: "
            "support and the privacy officer do"
        )


@router.get("", response_class=HTMLResponse)
def queue(ctx: StaffAccess, session: SessionDep) -> Response:
    """List the open cases, the soonest due first, overdue ones marked."""
    _require_handler(ctx)
    now = clock.now()
    rows = cases.queue(session)
    return pages.render(
        "cases.html",
        title="Requests",
        staff=ctx,
        active="cases",
        rows=[(row, cases.due(row), cases.is_overdue(row, now)) for row in rows],
        kinds=KIND_LABELS,
        counts=cases.counts(session, now),
    )


def _contact(
    session: Session, policy: LoadedPolicy, secrets: Secrets, ctx: StaffContext, row: Case
) -> tuple[dict[str, str], str | None]:
    """Read the case's address and message for support (audited), or say why not."""
    assert ctx.caller is not None
    if row.archived_at is not None or row.subject_id is None:
        return {}, "archived: the address and the message were erased"
    try:
        read = access.read(
            session, policy, secrets, ctx.caller, row.subject_id, case_service.SUPPORT
        )
    except AvowalError as exc:
        settle(session, exc)
        return {}, exc.message
    held = {name: v.value or "" for name, v in read.values.items()}
    fields = case_service.contact_fields(policy)
    return {"email": held.get(fields.email, ""), "message": held.get(fields.message, "")}, None


def _page(
    ctx: StaffContext,
    session: Session,
    policy: LoadedPolicy,
    secrets: Secrets,
    row: Case,
    *,
    error: str | None = None,
    done: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    assert ctx.caller is not None
    contact, unreadable = _contact(session, policy, secrets, ctx, row)
    # The uses the policy declares, not the whole taxonomy: what a person may have agreed to.
    purposes = sorted(policy.policy.purposes)
    return pages.render(
        "case.html",
        title=f"Request {row.number}",
        staff=ctx,
        active="cases",
        status_code=status_code,
        row=row,
        kind_label=KIND_LABELS.get(row.kind, row.kind),
        due=cases.due(row),
        overdue=cases.is_overdue(row),
        contact=contact,
        unreadable=unreadable,
        accounts=cases.accounts(row),
        history=case_service.history(session, row),
        may_act=erasure.may_erase(ctx.caller),
        outcomes=case_service.OUTCOMES,
        withdrawable=[p for p in purposes if service.withdrawable(policy, p)],
        objectable=[p for p in purposes if service.objectable(policy, p)],
        points=policy.policy.collection_points,
        error=error,
        done=done,
        max_extension=cases.MAX_EXTENSION_MONTHS,
    )


@router.get("/{case_id}", response_class=HTMLResponse)
def case_page(
    case_id: CaseId,
    ctx: StaffAccess,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
) -> Response:
    """Show a case: the message and address (read audited), the accounts, the history."""
    _require_handler(ctx)
    row = _case(ctx, session, case_id)
    if isinstance(row, Response):
        return row
    return _page(ctx, session, policy, secrets, row)


def _case(
    ctx: StaffContext, session: Session, case_id: str, *, lock: bool = False
) -> Case | Response:
    try:
        return cases.get(session, case_id, lock=lock)
    except AvowalError as exc:
        return pages.message(
            "Request not found",
            exc.message,
            status_code=404,
            staff=ctx,
            link=("/console/cases", "All requests"),
        )


def _step(
    ctx: StaffContext,
    session: Session,
    policy: LoadedPolicy,
    secrets: Secrets,
    case_id: str,
    work: Callable[[Case], str],
) -> Response:
    """Run one step on a locked case; on a refusal, render the case with the message."""
    _require_handler(ctx)
    row = _case(ctx, session, case_id, lock=True)
    if isinstance(row, Response):
        return row
    try:
        done = work(row)
    except AvowalError as exc:
        settle(session, exc)
        fresh = cases.get(session, case_id)
        return _page(
            ctx, session, policy, secrets, fresh, error=exc.message, status_code=exc.status_code
        )
    # The step is done: committed before the page reads the message again, so a refused read
    # (rolled back) cannot take the step with it.
    session.commit()
    return _page(ctx, session, policy, secrets, row, done=done)


@router.post("/{case_id}/identity", response_class=HTMLResponse)
def identity(
    case_id: CaseId,
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
) -> Response:
    """Mail the sender a link proving they control the address (7 days, single use)."""
    who = _who(ctx)

    def work(row: Case) -> str:
        case_service.send_identity_check(session, policy, secrets, settings, row, **who)
        return "The identity check was sent to the address of the request."

    return _step(ctx, session, policy, secrets, case_id, work)


def _who(ctx: StaffContext) -> dict[str, str]:
    return {"actor": ctx.account.email, "role": ctx.account.role}


@router.post("/{case_id}/act", response_class=HTMLResponse)
def act(
    case_id: CaseId,
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    action: Line = "",
    purpose: Line = "",
    point: Line = "",
    field: Line = "",
    value: Body = "",
) -> Response:
    """Carry out a checked request on the accounts holding its address."""
    assert ctx.caller is not None
    caller = ctx.caller
    step = case_actions.Step(action, purpose, point, field, value)

    def work(row: Case) -> str:
        done = case_actions.carry_out(session, policy, secrets, settings, row, step, caller)
        return f"Done: {done}."

    return _step(ctx, session, policy, secrets, case_id, work)


@router.post("/{case_id}/extend", response_class=HTMLResponse)
def extend(
    case_id: CaseId,
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    months: Annotated[int, Form()] = 0,
    reason: Body = "",
) -> Response:
    """Extend the case once, by 1 or 2 months, with the reason the person is told."""
    who = _who(ctx)

    def work(row: Case) -> str:
        case_service.extend(session, policy, secrets, settings, row, months, reason, **who)
        return f"Extended to {cases.due(row).date().isoformat()}; the person was told why."

    return _step(ctx, session, policy, secrets, case_id, work)


@router.post("/{case_id}/answer", response_class=HTMLResponse)
def answer(
    case_id: CaseId,
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    text: Body = "",
    outcome: Line = "",
) -> Response:
    """Mail the answer to the address of the request and close the case."""
    who = _who(ctx)

    def work(row: Case) -> str:
        case_service.answer(session, policy, secrets, settings, row, text, outcome, **who)
        return "The answer was sent and the request closed."

    return _step(ctx, session, policy, secrets, case_id, work)

"""Legal requests in the console: list, register, approve or reject (four eyes), export once.

Only privacy officers (roles granting ``essential.legal_obligation``) see these pages. The rules
live in :mod:`avowal.legal.service` and :mod:`avowal.legal.export`, which check the role again and
audit every action and every refusal; these routes only turn their answers into pages.
"""

from __future__ import annotations

import re
from typing import Annotated, Any

from fastapi import APIRouter, Form, Path, Query
from fastapi.responses import HTMLResponse, Response
from pydantic import ValidationError
from sqlalchemy.orm import Session

from avowal.console import nav, pages
from avowal.console.deps import AccessDenied, StaffAccess, StaffAccessForm, StaffContext
from avowal.legal import export as legal_export
from avowal.legal import service as legal
from avowal.legal.exceptions import NotPrivacyOfficer
from avowal.legal.schemas import LegalRequestCreate
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, settle
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import LEGAL_OBLIGATION

router = APIRouter(prefix="/console/legal", tags=["console"], include_in_schema=False)

RequestId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
Line = Annotated[str, Form(max_length=200)]
Text = Annotated[str, Form(max_length=4000)]
SUBJECT_IDS = 40_000  # characters: MAX_SUBJECTS ids of 36 characters and separators
FILTERS = ("pending", "approved", "exported", "rejected", "overdue")
NOTIFY = ("now", "later", "never")


def require_officer(ctx: StaffContext) -> None:
    """Refuse (403 page) a staff member whose role does not handle legal requests."""
    if ctx.caller is None or not nav.may_handle_legal(ctx.caller):
        raise AccessDenied(
            f"the role '{ctx.account.role}' does not grant {LEGAL_OBLIGATION}: only a "
            "privacy officer handles legal requests"
        )


def _settle(session: Session, exc: AvowalError) -> None:
    """Settle a refusal by the one rule (:func:`avowal.lib.deps.settle`), then show it."""
    settle(session, exc)
    if isinstance(exc, NotPrivacyOfficer):
        # Not the detail page: it would show the request to someone not entitled to see it.
        denied = AccessDenied(exc.message)
        denied.keep_audit = True
        raise denied from exc


@router.get("", response_class=HTMLResponse)
def legal_list(
    ctx: StaffAccess,
    session: SessionDep,
    status: Annotated[str, Query(max_length=16)] = "",
) -> Response:
    """List legal requests: all, or pending, approved, exported, rejected or overdue ones."""
    require_officer(ctx)
    shown = status if status in FILTERS else ""
    if shown == "overdue":
        rows = legal.overdue_requests(session)
    else:
        rows = legal.list_requests(session, status=shown or None)
    overdue = len(legal.overdue_requests(session))
    return pages.render(
        "legal_list.html",
        title="Legal requests",
        staff=ctx,
        active="legal",
        rows=rows,
        status=shown,
        filters=FILTERS,
        overdue=overdue,
    )


def _form_page(
    ctx: StaffContext,
    policy: LoadedPolicy,
    *,
    form: dict[str, Any] | None = None,
    errors: list[str] | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    declared = sorted({f for cp in policy.policy.collection_points.values() for f in cp.fields})
    ld = policy.policy.legal_disclosures
    authorities = [(key, policy.policy.recipients[key].name) for key in ld.recipients]
    return pages.render(
        "legal_new.html",
        title="Register a legal request",
        staff=ctx,
        active="legal",
        status_code=status_code,
        declared=declared,
        authorities=authorities,
        grounds=list(ld.grounds),
        form=form
        or {
            "authority": "",
            "reference": "",
            "legal_basis": "",
            "recipient": authorities[0][0] if authorities else "",
            "subject_ids": "",
            "fields": [],
            "deadline": "",
            "notify": "now",
            "confidential_until": "",
        },
        errors=errors or [],
    )


@router.get("/new", response_class=HTMLResponse)
def legal_new_form(ctx: StaffAccess, policy: PolicyDep) -> Response:
    """Show the form registering an authority's request."""
    require_officer(ctx)
    return _form_page(ctx, policy)


def _problems(exc: ValidationError) -> list[str]:
    names = {
        "deadline": "Deadline",
        "confidential_until": "Tell them from",
        "legal_basis": "Legal basis",
        "subject_ids": "People",
    }
    out = []
    for err in exc.errors():
        field = str(err["loc"][0]) if err["loc"] else ""
        out.append(f"{names.get(field, field.replace('_', ' ').capitalize())}: {err['msg']}")
    return out


@router.post("/new", response_class=HTMLResponse)
def legal_create(
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    authority: Line = "",
    reference: Line = "",
    legal_basis: Text = "",
    recipient: Line = "",
    subject_ids: Annotated[str, Form(max_length=SUBJECT_IDS)] = "",
    fields: Annotated[list[str] | None, Form()] = None,
    deadline: Line = "",
    notify: Line = "now",
    confidential_until: Line = "",
) -> Response:
    """Register an authority's request, pending a second privacy officer's decision."""
    form: dict[str, Any] = {
        "authority": authority,
        "reference": reference,
        "legal_basis": legal_basis,
        "recipient": recipient,
        "subject_ids": subject_ids,
        "fields": list(fields or []),
        "deadline": deadline,
        "notify": notify if notify in NOTIFY else "now",
        "confidential_until": confidential_until,
    }
    if form["notify"] == "later" and not confidential_until:
        return _form_page(
            ctx,
            policy,
            form=form,
            errors=["Tell them from: give the day from which the people may be told"],
            status_code=422,
        )
    try:
        body = LegalRequestCreate.model_validate(
            {
                "authority": authority,
                "reference": reference,
                "legal_basis": legal_basis,
                "recipient": recipient,
                "subject_ids": [s.lower() for s in re.split(r"[\s,;]+", subject_ids) if s],
                "fields": form["fields"],
                "deadline": deadline or None,
                "may_notify": form["notify"] == "now",
                "confidential_until": (confidential_until or None)
                if form["notify"] == "later"
                else None,
            }
        )
    except ValidationError as exc:
        return _form_page(ctx, policy, form=form, errors=_problems(exc), status_code=422)
    try:
        row = legal.create_request(session, policy, ctx.account, body)
    except AvowalError as exc:
        _settle(session, exc)
        return _form_page(ctx, policy, form=form, errors=[exc.message], status_code=exc.status_code)
    return pages.redirect(f"/console/legal/{row.id}")


def _detail(
    ctx: StaffContext,
    session: Session,
    policy: LoadedPolicy,
    request_id: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    try:
        row = legal.get_request(session, request_id)
    except AvowalError as exc:
        return pages.message(
            "Legal request not found",
            exc.message,
            staff=ctx,
            status_code=exc.status_code,
            link=("/console/legal", "All legal requests"),
        )
    own = row.requested_by == ctx.account.email
    return pages.render(
        "legal_detail.html",
        title=f"Legal request {row.reference}",
        staff=ctx,
        active="legal",
        status_code=status_code,
        r=row,
        recipient=policy.policy.recipients.get(row.recipient),
        four_eyes=policy.policy.legal_disclosures.four_eyes,
        own=own,
        error=error,
    )


@router.get("/{request_id}", response_class=HTMLResponse)
def legal_detail(
    request_id: RequestId, ctx: StaffAccess, session: SessionDep, policy: PolicyDep
) -> Response:
    """Show a legal request, with its decision and export."""
    require_officer(ctx)
    return _detail(ctx, session, policy, request_id)


@router.post("/{request_id}/approve", response_class=HTMLResponse)
def legal_approve(
    request_id: RequestId, ctx: StaffAccessForm, session: SessionDep, policy: PolicyDep
) -> Response:
    """Approve a pending request as a second privacy officer (never its requester)."""
    try:
        legal.approve(session, policy, ctx.account, request_id)
    except AvowalError as exc:
        _settle(session, exc)
        return _detail(
            ctx, session, policy, request_id, error=exc.message, status_code=exc.status_code
        )
    return pages.redirect(f"/console/legal/{request_id}")


@router.post("/{request_id}/reject", response_class=HTMLResponse)
def legal_reject(
    request_id: RequestId,
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    reason: Text = "",
) -> Response:
    """Reject a pending request as a second privacy officer; nothing is disclosed."""
    try:
        legal.reject(session, policy, ctx.account, request_id, reason.strip() or None)
    except AvowalError as exc:
        _settle(session, exc)
        return _detail(
            ctx, session, policy, request_id, error=exc.message, status_code=exc.status_code
        )
    return pages.redirect(f"/console/legal/{request_id}")


@router.post("/{request_id}/export", response_model=None)
def legal_export_bundle(
    request_id: RequestId,
    ctx: StaffAccessForm,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
) -> Response:
    """Produce the single export of an approved request, as a JSON file to hand over."""
    try:
        done = legal_export.export(session, policy, secrets, ctx.account, request_id)
    except AvowalError as exc:
        _settle(session, exc)
        return _detail(
            ctx, session, policy, request_id, error=exc.message, status_code=exc.status_code
        )
    return Response(
        done.content,
        media_type="application/json",
        headers={
            **pages.NO_STORE,
            "Content-Disposition": f'attachment; filename="{done.filename}"',
            "X-Content-SHA256": done.sha256,
        },
    )

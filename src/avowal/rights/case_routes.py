"""Questions and requests as cases: the contact form, the identity check's page, and the API.

``GET /privacy/contact`` shows the form beside the contact point's notice; ``POST`` collects
the message through the vault and opens a case, acknowledged by mail. ``/privacy/cases/confirm
/{token}`` is the page an identity check link opens. ``POST /v1/cases`` is the same for the
site's own form (a service token), ``GET /v1/cases/{id}`` the state of a case.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Form, Path
from fastapi.responses import HTMLResponse

from avowal.callers.deps import CallerDep, ReadCallerDep
from avowal.children import service as described
from avowal.lib import person_pages, problems
from avowal.lib.deps import (
    PolicyDep,
    ReadSessionDep,
    SecretsDep,
    SessionDep,
    SettingsDep,
    settle,
)
from avowal.lib.errors import AvowalError
from avowal.mail import service as mail
from avowal.policy import wording
from avowal.policy.loader import LoadedPolicy
from avowal.rights import case_service, cases, links, signin
from avowal.rights.case_schemas import KIND_LABELS, CaseCreate, CaseCreated, CaseRead
from avowal.rights.contact import ContactFields
from avowal.vault.exceptions import InvalidValue

router = APIRouter()

Token = Annotated[str, Path(max_length=200)]
CaseId = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
FormText = Annotated[str, Form()]
MESSAGE_MAX = 10_000


def _page(
    policy: LoadedPolicy, template: str, title: str, status: int = 200, **values: Any
) -> HTMLResponse:
    return person_pages.page(
        "avowal.rights", "templates", policy, template, title, status, **values
    )


def _done(policy: LoadedPolicy, title: str, message: str, status: int = 200) -> HTMLResponse:
    return _page(policy, person_pages.DONE, title, status, message=message)


def _form(
    policy: LoadedPolicy,
    *,
    values: dict[str, str] | None = None,
    errors: dict[str, str] | None = None,
    status: int = 200,
) -> HTMLResponse:
    """Render the contact form beside what the contact point's notice says."""
    try:
        fields = case_service.contact_fields(policy)
        note = case_service.contact_notice(policy)
    except AvowalError as exc:
        return _done(policy, "Write to us", exc.message, exc.status_code)
    collected, why = described.describe(policy, case_service.CONTACT, [f.name for f in note.fields])
    archived_after = wording.days(cases.ARCHIVE_AFTER.days)
    return _page(
        policy,
        "contact.html",
        "Write to us about your privacy",
        status,
        kinds=KIND_LABELS,
        notice_id=note.notice_id,
        labels={f.name: f.label for f in note.fields},
        email_field=fields.email,
        message_field=fields.message,
        collected=collected,
        purposes=why,
        retention=described.retention(policy, case_service.CONTACT),
        archived_after=archived_after,
        values=values or {"kind": "question", "email": "", "message": ""},
        errors=errors or {},
        privacy_contact=str(policy.policy.organisation.privacy_contact),
    )


@router.get("/privacy/contact", response_class=HTMLResponse, include_in_schema=False)
def contact_form(policy: PolicyDep) -> HTMLResponse:
    """Show the form for a question or a rights request, and what is done with it."""
    return _form(policy)


def _field_of(exc: AvowalError, fields: ContactFields) -> str:
    named = exc.details.get("field") or next(iter(exc.details.get("fields") or []), None)
    if named == fields.message:
        return "message"
    if named == fields.email:
        return "email"
    return "form"


@router.post("/privacy/contact", response_class=HTMLResponse, include_in_schema=False)
def contact_send(
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    kind: FormText = "",
    email: FormText = "",
    message: FormText = "",
    notice_id: FormText = "",
) -> HTMLResponse:
    """Open a case for a question or a request sent from the contact form; acknowledge it."""
    values = {"kind": kind, "email": email, "message": message}
    errors: dict[str, str] = {}
    if kind not in KIND_LABELS:
        errors["kind"] = "choose what you are writing about"
    if not email.strip():
        errors["email"] = "give the address we answer you at"
    else:
        try:
            signin.normalised_address(email)
        except InvalidValue:
            errors["email"] = "this is not an e-mail address"
    if not message.strip():
        errors["message"] = "write your question or your request"
    elif len(message) > MESSAGE_MAX:
        errors["message"] = f"at most {MESSAGE_MAX} characters"
    if errors:
        return _form(policy, values=values, errors=errors, status=422)
    try:
        fields = case_service.contact_fields(policy)
        row = case_service.receive(
            session,
            policy,
            secrets,
            settings,
            case_service.system_caller(policy),
            kind=kind,
            email=email,
            message=message,
            notice_id=notice_id,
            source="contact",
        )
    except AvowalError as exc:
        settle(session, exc)
        if exc.status_code == 404:
            return _done(policy, "Write to us", exc.message, 404)
        return _form(
            policy,
            values=values,
            errors={_field_of(exc, fields): exc.message},
            status=422 if exc.status_code < 500 else exc.status_code,
        )
    return _page(
        policy,
        "contact_done.html",
        "We received your message",
        number=row.number,
        question=row.kind == "question",
        mailed=mail.mail_configured(settings),
        due=wording.date(cases.due(row).date()),
    )


def _link_refused(policy: LoadedPolicy, exc: AvowalError) -> HTMLResponse:
    return _done(policy, "This link cannot be used", exc.message, exc.status_code)


@router.get("/privacy/cases/confirm/{token}", response_class=HTMLResponse, include_in_schema=False)
def identity_page(token: Token, session: ReadSessionDep, policy: PolicyDep) -> HTMLResponse:
    """Ask the sender of a request to confirm it is theirs (the link is used on confirming)."""
    try:
        opened = links.check(session, links.IDENTITY, token)
        assert opened.case_id is not None
        row = cases.get(session, opened.case_id)
    except AvowalError as exc:
        return _link_refused(policy, exc)
    return _page(
        policy,
        "identity_confirm.html",
        "Confirm your request",
        number=row.number,
        action=f"/privacy/cases/confirm/{token}",
    )


@router.post("/privacy/cases/confirm/{token}", response_class=HTMLResponse, include_in_schema=False)
def identity_confirm(
    token: Token, session: SessionDep, policy: PolicyDep, secrets: SecretsDep
) -> HTMLResponse:
    """Record that the sender controls the address: the request is about its accounts."""
    try:
        row = case_service.confirm_identity(session, policy, secrets, token)
    except AvowalError as exc:
        settle(session, exc)
        return _link_refused(policy, exc)
    return _done(
        policy,
        "Thank you",
        f"You confirmed request {row.number}. We will carry it out and write to you by "
        f"{wording.date(cases.due(row).date())} at the latest.",
    )


@router.post(
    "/v1/cases",
    status_code=201,
    response_model=CaseCreated,
    tags=["rights"],
    responses=problems.responses(
        400,
        401,
        403,
        404,
        409,
        410,
        422,
        503,
        s404="No contact point in the policy, or no such subject.",
        s409="The notice shown is not the contact point's current notice.",
    ),
)
def create_case(
    body: CaseCreate,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> CaseCreated:
    """Open a case for a question or a request sent from the site's own form.

    The message and address are collected at the contact point under the notice shown; the
    person is mailed the reference and the due date. With ``subject`` the site vouches for its
    signed-in user: the case is about that account, its sender known.
    """
    vouched = None
    if body.subject is not None:
        vouched = case_service.vouched_subject(session, caller, body.subject)
    row = case_service.receive(
        session,
        policy,
        secrets,
        settings,
        caller,
        kind=body.kind,
        email=body.email,
        message=body.message,
        notice_id=body.notice_id,
        source="api",
        vouched=vouched,
    )
    return CaseCreated(
        id=row.id,
        number=row.number,
        kind=row.kind,
        status=row.status,
        opened_at=row.opened_at,
        due=cases.due(row).date(),
        identity_checked=row.identity_checked_at is not None,
    )


@router.get(
    "/v1/cases/{case_id}",
    response_model=CaseRead,
    tags=["rights"],
    responses=problems.responses(401, 403, 404, 422, 503),
)
def read_case(case_id: CaseId, session: ReadSessionDep, caller: ReadCallerDep) -> CaseRead:
    """Return a case's state: open or closed, due, extended, outcome (never its message)."""
    caller.require(case_service.SUPPORT)
    return case_service.view(cases.get(session, case_id))

"""Console sign-in, sign-out, enrolment, the confidentiality agreement and the home page."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, Response

from avowal.console import pages
from avowal.console.deps import CurrentStaff, CurrentStaffForm, StaffContext, with_access
from avowal.legal import break_glass
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep, settle
from avowal.settings import Settings
from avowal.staff import service as staff
from avowal.staff import sessions, signin, totp
from avowal.staff.exceptions import (
    AccountInactive,
    EnrolmentInvalid,
    LockedOut,
    SignInFailed,
    StaffError,
    WeakPassword,
    WrongCode,
)

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)

FormText = Annotated[str, Form(max_length=1024)]


def _cookie(
    response: Response, request: Request, settings: Settings, name: str, value: str
) -> None:
    response.set_cookie(
        name,
        value,
        path=sessions.COOKIE_PATH,
        secure=sessions.cookie_secure(settings, request.url.scheme),
        httponly=True,
        samesite="strict",
    )


def _form_token(request: Request) -> str:
    """Return the browser's double-submit CSRF token, or a new one."""
    given = request.cookies.get(sessions.CSRF_COOKIE, "")
    return given if 32 <= len(given) <= 64 else sessions.new_csrf_token()


def _with_form_token(
    response: Response, request: Request, settings: Settings, token: str
) -> Response:
    if request.cookies.get(sessions.CSRF_COOKIE) != token:
        _cookie(response, request, settings, sessions.CSRF_COOKIE, token)
    return response


def _form_refused() -> HTMLResponse:
    return pages.message(
        "Form refused",
        "The form's security token is missing or out of date. Reload the page and try again.",
        status_code=403,
    )


def _login_page(
    request: Request,
    settings: Settings,
    *,
    email: str = "",
    error: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
) -> Response:
    token = _form_token(request)
    page = pages.render(
        "login.html",
        title="Sign in",
        email=email,
        error=error,
        csrf_token=token,
        status_code=status_code,
        headers=headers,
    )
    return _with_form_token(page, request, settings, token)


@router.get("/login", response_class=HTMLResponse)
def login_form(request: Request, settings: SettingsDep) -> Response:
    """Show the sign-in form."""
    return _login_page(request, settings)


@router.post("/login", response_class=HTMLResponse)
def login(
    request: Request,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    secrets: SecretsDep,
    email: FormText = "",
    password: FormText = "",
    code: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Sign in with e-mail, password and TOTP code; open a new session."""
    if not sessions.same_token(request.cookies.get(sessions.CSRF_COOKIE), csrf_token):
        return _form_refused()
    now = clock.now()
    try:
        done = signin.sign_in(
            session,
            policy,
            settings,
            secrets,
            email=email,
            password=password,
            code=code,
            address=request.client.host if request.client else "unknown",
            previous_token=request.cookies.get(sessions.COOKIE),
            now=now,
        )
    except (LockedOut, SignInFailed, AccountInactive) as exc:
        settle(session, exc)  # the failed attempt and its audit entry are kept
        if isinstance(exc, AccountInactive):
            return pages.message("Sign-in refused", exc.message, status_code=403)
        return _login_page(
            request,
            settings,
            email=email,
            error=exc.message,
            status_code=exc.status_code,
            headers=exc.headers,
        )
    pending = staff.must_acknowledge(session, policy, done.account)
    response = pages.redirect("/console/acknowledge" if pending else "/console")
    _cookie(response, request, settings, sessions.COOKIE, done.token)
    return response


@router.post("/logout")
def logout(request: Request, session: SessionDep, ctx: CurrentStaffForm) -> Response:
    """Sign out: end the session."""
    signin.sign_out(session, ctx.account, request.cookies.get(sessions.COOKIE, ""), now=clock.now())
    response = pages.redirect("/console/login")
    response.delete_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH)
    return response


# -- Enrolment ---------------------------------------------------------------------------------


def _enrol_page(
    request: Request,
    settings: Settings,
    policy: PolicyDep,
    token: str,
    account_email: str,
    secret: str,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> Response:
    form_token = _form_token(request)
    uri = totp.provisioning_uri(secret, account_email, policy.policy.organisation.name)
    page = pages.render(
        "enrol.html",
        title="Enrol",
        email=account_email,
        token=token,
        qr=totp.qr_data_uri(uri),
        secret=totp.group(secret),
        min_length=policy.policy.security.password.min_length,
        error=error,
        csrf_token=form_token,
        status_code=status_code,
    )
    return _with_form_token(page, request, settings, form_token)


def _link_refused(exc: EnrolmentInvalid) -> HTMLResponse:
    return pages.message("Enrolment link not valid", exc.message, status_code=410)


@router.get("/enrol/{token}", response_class=HTMLResponse)
def enrol_form(
    token: str,
    request: Request,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    secrets: SecretsDep,
) -> Response:
    """Show the enrolment form: the TOTP QR code and the password fields."""
    try:
        account = staff.open_enrolment(session, token, now=clock.now())
    except EnrolmentInvalid as exc:
        settle(session, exc)
        return _link_refused(exc)
    secret = staff.totp_secret(secrets, account)
    return _enrol_page(request, settings, policy, token, account.email, secret)


@router.post("/enrol/{token}", response_class=HTMLResponse)
def enrol(
    token: str,
    request: Request,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    secrets: SecretsDep,
    password: FormText = "",
    confirm: FormText = "",
    code: FormText = "",
    csrf_token: FormText = "",
) -> Response:
    """Set the password and confirm the authenticator app; the link then stops working."""
    if not sessions.same_token(request.cookies.get(sessions.CSRF_COOKIE), csrf_token):
        return _form_refused()
    try:
        account = staff.complete_enrolment(
            session,
            policy,
            secrets,
            token,
            password=password,
            confirm=confirm,
            code=code,
            now=clock.now(),
        )
    except EnrolmentInvalid as exc:
        settle(session, exc)
        return _link_refused(exc)
    except (WeakPassword, WrongCode) as exc:
        # Both are refused before anything changes; the link stays usable.
        settle(session, exc)
        account = staff.open_enrolment(session, token, now=clock.now())
        secret = staff.totp_secret(secrets, account)
        return _enrol_page(
            request,
            settings,
            policy,
            token,
            account.email,
            secret,
            error=exc.message,
            status_code=400,
        )
    return pages.message(
        "Enrolment complete",
        f"The account {account.email} is ready. Sign in with your password and a code from "
        "the authenticator app.",
        link=("/console/login", "Sign in"),
    )


# -- Confidentiality and home ------------------------------------------------------------------


def _acknowledge_page(
    ctx: StaffContext,
    policy: PolicyDep,
    session: SessionDep,
    *,
    error: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    agreement = policy.policy.staff.confidentiality
    return pages.render(
        "acknowledge.html",
        title="Confidentiality agreement",
        staff=ctx,
        version=agreement.version,
        text=agreement.text,
        organisation=policy.policy.organisation.name,
        pending=staff.must_acknowledge(session, policy, ctx.account),
        error=error,
        status_code=status_code,
    )


@router.get("/acknowledge", response_class=HTMLResponse)
def acknowledge_form(ctx: CurrentStaff, session: SessionDep, policy: PolicyDep) -> HTMLResponse:
    """Show the current confidentiality agreement to acknowledge."""
    return _acknowledge_page(ctx, policy, session)


@router.post("/acknowledge", response_class=HTMLResponse)
def acknowledge(
    ctx: CurrentStaffForm, session: SessionDep, policy: PolicyDep, version: FormText = ""
) -> Response:
    """Record the acknowledgement of the agreement version shown."""
    try:
        staff.acknowledge(session, policy, ctx.account, version, now=clock.now())
    except StaffError as exc:
        settle(session, exc)
        return _acknowledge_page(ctx, policy, session, error=exc.message, status_code=409)
    return pages.redirect("/console")


@router.get("", response_class=HTMLResponse)
def home(ctx: CurrentStaff, session: SessionDep, policy: PolicyDep) -> HTMLResponse:
    """Show the signed-in staff member's role, purposes and agreement status."""
    role = staff.role_of(policy, ctx.account)
    pending = staff.must_acknowledge(session, policy, ctx.account)
    return pages.render(
        "home.html",
        # Grants the policy tells this role of (staff.break_glass.notify), once bound by the
        # agreement: a justification may say more than it should.
        notices=[] if pending else break_glass.notices_for(session, ctx.account),
        title="Home",
        # Home is open to every signed-in member; the navigation shows what their access allows.
        staff=with_access(ctx, session, policy),
        active="home",
        role=role,
        purposes=list(role.purposes) if role else [],
        expires_at=ctx.account.expires_at,
        pending=pending,
        version=policy.policy.staff.confidentiality.version,
    )

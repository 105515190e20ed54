"""Who is using the console: the signed-in staff member, and whether they may see personal data.

Console routes build on two dependencies:

``CurrentStaff`` (:func:`current_staff`)
    A signed-in staff member: the ``avowal_session`` cookie names a session that has not ended,
    idled out (``session_idle_minutes``) or reached its absolute limit
    (``session_absolute_hours``), of an account that is neither disabled nor expired. Otherwise
    the session is ended and the browser is sent (303) to ``/console/login``. ``caller`` is None.

``StaffAccess`` (:func:`require_access`)
    Everything ``CurrentStaff`` checks, and: the account is enrolled (password and TOTP), its
    role is a staff role of the enforced policy, and it acknowledged the policy's *current*
    confidentiality agreement version (else 303 to ``/console/acknowledge``; other refusals are
    a 403 HTML page). ``caller`` is then a :class:`avowal.callers.service.Caller` whose purposes
    are the role's: pass it to :func:`avowal.vault.access.read`/``lookup``, which check each
    purpose and audit the access. This is the dependency of every page that shows personal data.

Every POST of the console must check the CSRF token: use ``CurrentStaffForm`` or
``StaffAccessForm``, which do the same and then refuse (403) unless the form's ``csrf_token``
field equals the session's token. Forms render it as
``<input type="hidden" name="csrf_token" value="{{ staff.csrf_token }}">``.

Refusals are :class:`ConsoleRefusal` exceptions, rendered as HTML (or redirects) by the handler
:func:`avowal.console.install` registers, never as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request

from avowal.callers.service import Caller
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, SessionDep, SettingsDep
from avowal.lib.errors import AvowalError
from avowal.staff import repository as staff_repository
from avowal.staff import service as staff
from avowal.staff import sessions
from avowal.staff.models import StaffAccount, StaffSession


@dataclass(frozen=True)
class StaffContext:
    """The signed-in staff member of a console request.

    ``caller`` is set only by :func:`require_access`: the purposes the account's role grants.
    """

    account: StaffAccount
    session: StaffSession
    csrf_token: str
    caller: Caller | None = None


class ConsoleRefusal(AvowalError):
    """A console refusal, answered with an HTML page or, with ``location``, a 303 redirect."""

    status_code = 403
    error = "console_refusal"
    location: str | None = None
    title = "Not allowed"


class SignInRequired(ConsoleRefusal):
    status_code = 303
    error = "sign_in_required"
    location = "/console/login"
    # The session ended here (timeout, disabled or expired account) must be committed.
    keep_audit = True


class AcknowledgementRequired(ConsoleRefusal):
    status_code = 303
    error = "acknowledgement_required"
    location = "/console/acknowledge"


class AccessDenied(ConsoleRefusal):
    status_code = 403
    error = "access_denied"


class CsrfRefused(ConsoleRefusal):
    status_code = 403
    error = "csrf_refused"
    title = "Form refused"


def current_staff(request: Request, session: SessionDep, settings: SettingsDep) -> StaffContext:
    """Return the signed-in staff member, or send the browser to the sign-in page."""
    now = clock.now()
    row = sessions.resolve(session, settings, request.cookies.get(sessions.COOKIE), now)
    if row is None:
        raise SignInRequired("sign in to use the console")
    account = staff_repository.account(session, row.account_id)
    if account is None or staff.state(account, now) in ("disabled", "expired"):
        # Disabled or expired accounts lose access at once, whatever session they hold.
        sessions.end(row, now)
        if account is not None:
            staff_repository.end_sessions(session, account.id, now)
        raise SignInRequired("this account is disabled or expired")
    return StaffContext(account=account, session=row, csrf_token=row.csrf_token)


CurrentStaff = Annotated[StaffContext, Depends(current_staff)]


def require_access(ctx: CurrentStaff, session: SessionDep, policy: PolicyDep) -> StaffContext:
    """Return the staff member with the caller of their role, if they may see personal data."""
    account = ctx.account
    if account.enrolled_at is None or account.password_hash is None:
        raise AccessDenied("this account has not finished enrolment")
    role = staff.role_of(policy, account)
    if role is None or role.service:
        raise AccessDenied(
            f"the role '{account.role}' of this account is not a staff role of the policy "
            "in force; ask the administrator of the console"
        )
    if staff.must_acknowledge(session, policy, account):
        raise AcknowledgementRequired(
            "acknowledge the confidentiality agreement before any access to personal data"
        )
    caller = Caller(name=account.email, role=account.role, purposes=tuple(role.purposes))
    return StaffContext(ctx.account, ctx.session, ctx.csrf_token, caller)


StaffAccess = Annotated[StaffContext, Depends(require_access)]


async def form_csrf_token(request: Request) -> str:
    """Return the ``csrf_token`` field of the request's form ('' when absent)."""
    value = (await request.form()).get("csrf_token")
    return value if isinstance(value, str) else ""


FormCsrf = Annotated[str, Depends(form_csrf_token)]


def check_csrf(ctx: StaffContext, given: str | None) -> None:
    """Refuse (403) unless ``given`` is the session's CSRF token."""
    if not sessions.same_token(ctx.csrf_token, given):
        raise CsrfRefused("the form's security token is missing or out of date; reload the page")


def current_staff_form(ctx: CurrentStaff, token: FormCsrf) -> StaffContext:
    """Return the signed-in staff member of a POST whose CSRF token is right."""
    check_csrf(ctx, token)
    return ctx


def require_access_form(ctx: StaffAccess, token: FormCsrf) -> StaffContext:
    """Return the staff member (with caller) of a POST whose CSRF token is right."""
    check_csrf(ctx, token)
    return ctx


CurrentStaffForm = Annotated[StaffContext, Depends(current_staff_form)]
StaffAccessForm = Annotated[StaffContext, Depends(require_access_form)]

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

Both carry ``policy``, the policy in force, which names the keys a page shows and decides its
navigation. A page open to every signed-in member (home) asks :func:`with_access` for the
caller without being refused; an error page asks :func:`signed_in`, which changes nothing.

Every POST of the console must check the CSRF token: use ``CurrentStaffForm`` or
``StaffAccessForm``, which do the same and then refuse (403) unless the form's ``csrf_token``
field equals the session's token. Forms render it as
``<input type="hidden" name="csrf_token" value="{{ staff.csrf_token }}">``.

Every console route also goes through :func:`guard`, which :func:`avowal.console.install` puts
on each console router (a new router gets it by being installed there):

- a POST must come from the console's own origin: its ``Origin`` header (or, without one, its
  ``Referer``) must be the origin of ``settings.public_url``; outside production, while
  ``public_url`` is left at its default, the request's own origin (scheme and ``Host``) is
  accepted too, so a development server works on any address. ``Origin: null`` (a page with
  ``Referrer-Policy: no-referrer`` or a sandboxed frame) is refused. A request with neither
  header is let through to the CSRF check: every browser in use sends ``Origin`` on a form
  POST, so only non-browser clients omit both, and they cannot hold a victim's cookies.
- every form field and query parameter must be text that can be stored (no NUL, lone
  surrogate or noncharacter, :mod:`avowal.lib.text`): otherwise a 400 page names the field,
  and nothing runs.

Refusals are :class:`ConsoleRefusal` exceptions, rendered as HTML (or redirects) by the handler
:func:`avowal.console.install` registers, never as JSON.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from sqlalchemy.orm import Session

from avowal.callers.service import Caller
from avowal.lib import clock
from avowal.lib import text as storable
from avowal.lib.deps import PolicyDep, SessionDep, SettingsDep, get_policy, get_settings
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings
from avowal.staff import repository as staff_repository
from avowal.staff import service as staff
from avowal.staff import sessions
from avowal.staff.exceptions import AccountInactive
from avowal.staff.models import StaffAccount, StaffSession

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": 80, "https": 443}


@dataclass(frozen=True)
class StaffContext:
    """The signed-in staff member of a console request.

    ``caller`` is set only by :func:`require_access` (or :func:`with_access`, which does not
    refuse): the purposes the account's role grants. ``policy`` is the policy in force for the
    request, which names the keys shown (:mod:`avowal.console.names`) and decides the navigation
    (:mod:`avowal.console.nav`).
    """

    account: StaffAccount
    session: StaffSession
    csrf_token: str
    caller: Caller | None = None
    policy: LoadedPolicy | None = None


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


class OriginRefused(ConsoleRefusal):
    """A console POST sent from a page of another origin (or of none)."""

    status_code = 403
    error = "origin_refused"
    title = "Form refused"


class FormTextRefused(ConsoleRefusal):
    """A form field or query parameter holding a character that cannot be stored."""

    status_code = 400
    error = "invalid_text"
    title = "Form refused"


def origin_of(url: str) -> str | None:
    """Return the origin (``scheme://host[:port]``, default port left out) of a URL, or None."""
    try:
        parts = urlsplit(url.strip())
        port = parts.port
    except ValueError:
        return None
    scheme, host = parts.scheme.lower(), (parts.hostname or "").lower()
    if scheme not in DEFAULT_PORTS or not host:
        return None
    if ":" in host:
        host = f"[{host}]"
    shown = "" if port is None or port == DEFAULT_PORTS[scheme] else f":{port}"
    return f"{scheme}://{host}{shown}"


def allowed_origins(request: Request, settings: Settings) -> set[str]:
    """Return the origins console forms may be posted from (see the module's docstring)."""
    found = {origin_of(settings.public_url)}
    default = Settings.model_fields["public_url"].default
    if settings.env != "production" and settings.public_url == default:
        # No mutation here: header names are case-insensitive, so "HOST" is the same header.
        host = request.headers.get("host")  # pragma: no mutate
        found.add(origin_of(f"{request.url.scheme}://{host or ''}"))
    return {o for o in found if o is not None}


def check_origin(request: Request, settings: Settings) -> None:
    """Refuse (403) a POST whose Origin, or else Referer, is not the console's own origin."""
    if request.method in SAFE_METHODS:
        return
    for header in ("Origin", "Referer"):  # the Origin header, or else the Referer
        given = request.headers.get(header)
        if given is not None:
            break
    else:
        return  # no browser omits both on a form POST; the CSRF token still decides
    allowed = allowed_origins(request, settings)
    if origin_of(given) not in allowed:
        shown = storable.clean(given[:100])
        raise OriginRefused(
            f"this form was sent from another site ({header}: {shown}); console forms are "
            f"accepted only from the console's own pages at {', '.join(sorted(allowed))}",
            header=header,
        )


async def check_text(request: Request) -> None:
    """Refuse (400, naming the field) a query parameter or form field that cannot be stored."""
    fields = list(request.query_params.multi_items())
    if request.method not in SAFE_METHODS:
        fields += [(k, v) for k, v in (await request.form()).multi_items() if isinstance(v, str)]
    for name, value in fields:
        for part, where in ((name, "a field name"), (value, f"the field '{name}'")):
            reason = storable.problem(part)
            if reason is not None:
                raise FormTextRefused(
                    f"{storable.clean(where)} holds a character that cannot be stored "
                    f"({reason}); remove it and send the form again",
                    field=storable.clean(name),
                )


async def guard(request: Request, settings: SettingsDep) -> None:
    """Check a console request before anything else runs: its origin, then its text."""
    check_origin(request, settings)
    await check_text(request)


def current_staff(
    request: Request, session: SessionDep, settings: SettingsDep, policy: PolicyDep
) -> StaffContext:
    """Return the signed-in staff member, or send the browser to the sign-in page."""
    now = clock.now()
    row = sessions.resolve(session, settings, request.cookies.get(sessions.COOKIE), now)
    if row is None:
        raise SignInRequired("sign in to use the console")
    account = staff_repository.account(session, row.account_id)
    try:
        if account is None:
            raise AccountInactive("this account no longer exists")
        staff.require_active(account, now)
    except AccountInactive:
        # Disabled or expired accounts lose access at once, whatever session they hold.
        sessions.end(row, now)
        if account is not None:
            staff_repository.end_sessions(session, account.id, now)
        raise SignInRequired("this account is disabled or expired") from None
    return StaffContext(account=account, session=row, csrf_token=row.csrf_token, policy=policy)


CurrentStaff = Annotated[StaffContext, Depends(current_staff)]


def access_refusal(
    session: Session, policy: LoadedPolicy, account: StaffAccount
) -> ConsoleRefusal | None:
    """Return why the account may not see personal data now, or None when it may.

    The one rule of :data:`StaffAccess`: enrolled, a staff role of the policy in force, and the
    current confidentiality agreement acknowledged. It only reads.
    """
    if account.enrolled_at is None or account.password_hash is None:
        return AccessDenied("this account has not finished enrolment")
    role = staff.role_of(policy, account)
    if role is None or role.service:
        return AccessDenied(
            f"the role '{account.role}' of this account is not a staff role of the policy "
            "in force; ask the administrator of the console"
        )
    if staff.must_acknowledge(session, policy, account):
        return AcknowledgementRequired(
            "acknowledge the confidentiality agreement before any access to personal data"
        )
    return None


def _granted(ctx: StaffContext, policy: LoadedPolicy) -> StaffContext:
    caller = staff.caller(policy, ctx.account)
    return StaffContext(ctx.account, ctx.session, ctx.csrf_token, caller, policy)


def with_access(ctx: StaffContext, session: Session, policy: LoadedPolicy) -> StaffContext:
    """Return the staff member with their role's caller if they may see personal data, else
    as they are (``caller`` None): for pages open to every signed-in member, such as home."""
    if access_refusal(session, policy, ctx.account) is not None:
        return ctx
    return _granted(ctx, policy)


def require_access(ctx: CurrentStaff, session: SessionDep, policy: PolicyDep) -> StaffContext:
    """Return the staff member with the caller of their role, if they may see personal data."""
    refusal = access_refusal(session, policy, ctx.account)
    if refusal is not None:
        raise refusal
    return _granted(ctx, policy)


def signed_in(request: Request) -> StaffContext | None:
    """Return who is signed in for an error page, changing nothing; None when nobody is.

    Unlike :func:`current_staff` it ends no session, touches none and writes no audit entry:
    an error page only shows the navigation of a session that is still live, read through the
    read-only session.
    """
    token = request.cookies.get(sessions.COOKIE)
    if not token or len(token) > 64:
        return None
    settings, policy, now = get_settings(request), get_policy(request), clock.now()
    with request.app.state.read_sessionmaker() as session:
        row = staff_repository.session_by_hash(session, sessions.digest(token))
        if row is None or sessions.expiry_reason(row, settings, now) is not None:
            return None
        account = staff_repository.account(session, row.account_id)
        if account is None or staff.state(account, now) in ("disabled", "expired"):
            return None
        ctx = StaffContext(account, row, row.csrf_token, None, policy)
        return with_access(ctx, session, policy)


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

"""Staff accounts: adding, enrolling, disabling, listing, and the confidentiality agreement."""

from __future__ import annotations

import datetime as dt
import hashlib
import secrets as random
from dataclasses import dataclass

from email_validator import EmailNotValidError, validate_email
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.crypto.service import Secrets
from avowal.lib.clock import aware
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import Role, StaffKind
from avowal.settings import Settings
from avowal.staff import passwords, repository, sessions, totp
from avowal.staff.exceptions import (
    AccountInactive,
    EnrolmentInvalid,
    StaffError,
    UnknownAccount,
    WrongCode,
)
from avowal.staff.models import Acknowledgement, Enrolment, StaffAccount

OPERATOR = "cli"  # the audit actor of commands run on the server


@dataclass(frozen=True)
class Added:
    """A new account and its single-use enrolment link (shown once)."""

    account: StaffAccount
    link: str


@dataclass(frozen=True)
class Listed:
    """One line of `avowal staff list`."""

    email: str
    kind: str
    role: str
    state: str
    expires_at: dt.datetime | None
    acknowledged: str | None


def normalise_email(email: str) -> str:
    """Return the canonical (lower-case) form of an e-mail address, or refuse it."""
    try:
        checked = validate_email(email.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise StaffError(f"'{email}' is not a valid e-mail address: {exc}", field="email") from None
    return checked.normalized.lower()


def role_of(policy: LoadedPolicy, account: StaffAccount) -> Role | None:
    """Return the policy's role of an account, or None when the policy no longer has it."""
    return policy.policy.staff.roles.get(account.role)


def requires_mfa(policy: LoadedPolicy, role: Role | None) -> bool:
    """Tell whether a role signs in with a TOTP code: it may see personal data."""
    return role is None or (policy.policy.security.mfa_for_personal_data and bool(role.purposes))


def state(account: StaffAccount, now: dt.datetime) -> str:
    """Return 'disabled', 'expired', 'not enrolled' or 'active'."""
    if account.disabled_at is not None:
        return "disabled"
    if account.expires_at is not None and aware(account.expires_at) <= now:
        return "expired"
    if account.enrolled_at is None or account.password_hash is None:
        return "not enrolled"
    return "active"


def require_active(account: StaffAccount, now: dt.datetime) -> None:
    """Refuse (403) a disabled or expired account: it loses every access at once."""
    current = state(account, now)
    if current == "disabled":
        raise AccountInactive(f"account {account.email} is disabled", account=account.email)
    if current == "expired" and account.expires_at is not None:
        raise AccountInactive(
            f"account {account.email} expired on {aware(account.expires_at):%Y-%m-%d}",
            account=account.email,
        )


def caller(policy: LoadedPolicy, account: StaffAccount) -> Caller:
    """Return the caller a staff member acts as: the role's purposes, under the e-mail address.

    The one way to build a staff member's caller (console pages, legal requests, break-glass,
    which widens it). A role the policy no longer has grants nothing.
    """
    role = role_of(policy, account)
    return Caller(account.email, account.role, tuple(role.purposes) if role else ())


def _end_of(day: dt.date) -> dt.datetime:
    # An account "expiring on" a day works through that day (UTC).
    return dt.datetime.combine(day + dt.timedelta(days=1), dt.time(), tzinfo=dt.UTC)


def _check_role(policy: LoadedPolicy, role: str, kind: str) -> Role:
    roles = policy.policy.staff.roles
    found = roles.get(role)
    staff_roles = sorted(name for name, r in roles.items() if not r.service)
    if found is None:
        raise StaffError(
            f"role '{role}' is not a role of the policy (roles: {', '.join(staff_roles)})",
            field="role",
        )
    if found.service:
        raise StaffError(
            f"role '{role}' is a service role for site back ends (use `avowal token create`); "
            f"staff roles: {', '.join(staff_roles)}",
            field="role",
        )
    if kind not in found.kinds:
        allowed = ", ".join(k.value for k in found.kinds)
        raise StaffError(
            f"the policy gives role '{role}' only to: {allowed} (not {kind})", field="kind"
        )
    return found


def _check_expiry(
    policy: LoadedPolicy, kind: str, expires: dt.date | None, now: dt.datetime
) -> dt.datetime | None:
    limit = policy.policy.staff.max_contractor_days
    a_kind = f"an {kind}" if kind[0] in "aeiou" else f"a {kind}"
    temporary = kind in (StaffKind.contractor, StaffKind.agent)
    if expires is None:
        if temporary:
            raise StaffError(
                f"{a_kind}'s account must expire: give --expires DATE, at most {limit} days ahead",
                field="expires",
            )
        return None
    today = now.date()
    if expires < today:
        raise StaffError(f"--expires {expires} is in the past", field="expires")
    if temporary and (expires - today).days > limit:
        raise StaffError(
            f"the policy lets {a_kind}'s account last at most {limit} days "
            f"(until {today + dt.timedelta(days=limit)}), not until {expires}",
            field="expires",
        )
    return _end_of(expires)


def _issue_link(
    session: Session, settings: Settings, account: StaffAccount, now: dt.datetime
) -> str:
    token = random.token_urlsafe(32)  # 256 bits
    session.add(
        Enrolment(
            account_id=account.id,
            token_hash=hashlib.sha256(token.encode()).hexdigest(),
            created_at=now,
            expires_at=now + dt.timedelta(hours=settings.enrolment_hours),
        )
    )
    return f"{settings.public_url.rstrip('/')}/console/enrol/{token}"


def _new_secret(secrets: Secrets, account: StaffAccount) -> None:
    account.totp_secret = totp.encrypt(secrets.index_key, account.id, totp.new_secret())
    account.totp_last_step = None


def add(
    session: Session,
    policy: LoadedPolicy,
    settings: Settings,
    secrets: Secrets,
    *,
    email: str,
    kind: str,
    role: str,
    expires: dt.date | None = None,
    now: dt.datetime,
) -> Added:
    """Create an account for a role of the policy; return its single-use enrolment link."""
    if kind not in {k.value for k in StaffKind}:
        raise StaffError(f"kind '{kind}' is not employee, contractor or agent", field="kind")
    address = normalise_email(email)
    _check_role(policy, role, kind)
    expires_at = _check_expiry(policy, kind, expires, now)
    if repository.account_by_email(session, address) is not None:
        raise StaffError(f"an account for {address} exists already", field="email")
    account = StaffAccount(
        email=address, kind=kind, role=role, created_at=now, expires_at=expires_at, failed_logins=0
    )
    session.add(account)
    session.flush()
    _new_secret(secrets, account)
    link = _issue_link(session, settings, account, now)
    audit.append(
        session,
        audit.Event(
            actor=OPERATOR,
            role="operator",
            action="staff_add",
            reason=f"{address} as {role} ({kind})"
            + (f" until {expires_at:%Y-%m-%d %H:%M} UTC" if expires_at else ""),
        ),
    )
    return Added(account, link)


def _known(session: Session, email: str) -> StaffAccount:
    address = email.strip().lower()
    account = repository.account_by_email(session, address)
    if account is None:
        raise UnknownAccount(f"no staff account for {address}", field="email")
    return account


def disable(session: Session, email: str, *, now: dt.datetime) -> int:
    """Disable an account at once: end its sessions and links; return how many sessions ended."""
    account = _known(session, email)
    if account.disabled_at is None:
        account.disabled_at = now
    repository.close_enrolments(session, account.id, now)
    ended = sessions.end_all(session, account.id, now)
    audit.append(
        session,
        audit.Event(
            actor=OPERATOR,
            role="operator",
            action="staff_disable",
            reason=f"{account.email}; {ended} session(s) ended",
        ),
    )
    return ended


def relink(
    session: Session, settings: Settings, secrets: Secrets, email: str, *, now: dt.datetime
) -> str:
    """Reset an account's password and TOTP (lost phone): end its sessions, return a new link."""
    account = _known(session, email)
    current = state(account, now)
    if current in ("disabled", "expired"):
        raise StaffError(f"the account of {account.email} is {current}", field="email")
    repository.close_enrolments(session, account.id, now)
    sessions.end_all(session, account.id, now)
    account.password_hash = None
    account.enrolled_at = None
    _new_secret(secrets, account)
    link = _issue_link(session, settings, account, now)
    audit.append(
        session,
        audit.Event(actor=OPERATOR, role="operator", action="staff_relink", reason=account.email),
    )
    return link


def list_accounts(session: Session, *, now: dt.datetime) -> list[Listed]:
    """Return every account with its state and latest acknowledged agreement version."""
    acks = repository.last_acknowledged(session)
    return [
        Listed(
            a.email,
            a.kind,
            a.role,
            state(a, now),
            aware(a.expires_at) if a.expires_at else None,
            acks.get(a.id),
        )
        for a in repository.accounts(session)
    ]


def totp_secret(secrets: Secrets, account: StaffAccount) -> str:
    """Return an account's TOTP secret in clear (for the enrolment page, and tests)."""
    if account.totp_secret is None:
        raise StaffError(f"{account.email} has no TOTP secret")
    return totp.decrypt(secrets.index_key, account.id, account.totp_secret)


# -- Enrolment ---------------------------------------------------------------------------------


def open_enrolment(session: Session, token: str, *, now: dt.datetime) -> StaffAccount:
    """Return the account an enrolment link belongs to, or refuse a used or expired link."""
    row = repository.enrolment_by_hash(session, hashlib.sha256(token.encode()).hexdigest())
    if row is None:
        raise EnrolmentInvalid("this enrolment link is not valid; ask for a new one")
    if row.used_at is not None:
        raise EnrolmentInvalid("this enrolment link was used already; each link works once")
    if aware(row.expires_at) <= now:
        raise EnrolmentInvalid(
            f"this enrolment link expired on {aware(row.expires_at):%Y-%m-%d %H:%M} UTC; "
            "ask for a new one"
        )
    account = repository.account(session, row.account_id)
    if account is None or state(account, now) in ("disabled", "expired"):
        raise EnrolmentInvalid("this account is disabled or expired")
    return account


def complete_enrolment(
    session: Session,
    policy: LoadedPolicy,
    secrets: Secrets,
    token: str,
    *,
    password: str,
    confirm: str,
    code: str,
    now: dt.datetime,
) -> StaffAccount:
    """Set the password and confirm the TOTP app with a code; the link then stops working."""
    account = open_enrolment(session, token, now=now)
    passwords.check(password, account.email, policy.policy.security.password, confirm=confirm)
    step = totp.matching_step(totp_secret(secrets, account), code, now, account.totp_last_step)
    if step is None:
        raise WrongCode(
            "the code from the authenticator app is wrong; check the phone's clock and "
            "type the code shown now"
        )
    account.password_hash = passwords.hash_password(password)
    account.totp_last_step = step
    account.enrolled_at = now
    repository.close_enrolments(session, account.id, now)
    sessions.end_all(session, account.id, now)
    audit.append(session, audit.Event(actor=account.email, role=account.role, action="enrol"))
    return account


# -- Confidentiality ---------------------------------------------------------------------------


def must_acknowledge(session: Session, policy: LoadedPolicy, account: StaffAccount) -> bool:
    """Tell whether the account has yet to acknowledge the current agreement version."""
    version = policy.policy.staff.confidentiality.version
    return not repository.has_acknowledged(session, account.id, version)


def acknowledge(
    session: Session, policy: LoadedPolicy, account: StaffAccount, version: str, *, now: dt.datetime
) -> None:
    """Record the account's acknowledgement of the agreement version it was shown."""
    current = policy.policy.staff.confidentiality.version
    if version != current:
        raise StaffError(
            f"the agreement changed (version {current}, not {version}); read the new version",
            field="version",
        )
    if repository.has_acknowledged(session, account.id, current):
        return
    session.add(Acknowledgement(account_id=account.id, version=current, at=now))
    audit.append(
        session,
        audit.Event(
            actor=account.email,
            role=account.role,
            action="acknowledge",
            reason=f"confidentiality agreement version {current}",
        ),
    )

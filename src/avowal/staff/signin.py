"""Sign-in: password and TOTP, throttled per account and per address, with lockout."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from dataclasses import dataclass

from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.crypto.service import Secrets
from avowal.lib.clock import aware
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings
from avowal.staff import passwords, repository, sessions, totp
from avowal.staff import service as staff
from avowal.staff.exceptions import AccountInactive, LockedOut, SignInFailed
from avowal.staff.models import LoginAttempt, StaffAccount

GENERIC = "e-mail, password or code is wrong"
UNKNOWN_ACTOR = "unknown"  # never the typed e-mail: it may be a password typed in the wrong box


@dataclass(frozen=True)
class SignedIn:
    """A successful sign-in: the account and its new session (cookie value and CSRF token)."""

    account: StaffAccount
    token: str
    csrf_token: str


def throttle_key(secrets: Secrets, kind: str, value: str) -> str:
    """Return the keyed hash under which attempts of an account or address are counted."""
    msg = f"avowal sign-in\0{kind}\0{value}".encode()
    return hmac.new(secrets.index_key, msg, hashlib.sha256).hexdigest()


def locked_until(
    settings: Settings, failures: list[dt.datetime], now: dt.datetime
) -> dt.datetime | None:
    """Return when a lockout ends, if ``login_max_failures`` failures (oldest first) fell within
    one window whose lockout is still running; else None."""
    window = dt.timedelta(minutes=settings.login_window_minutes)
    lockout = dt.timedelta(minutes=settings.lockout_minutes)
    times = [aware(t) for t in failures]
    n = settings.login_max_failures
    until: dt.datetime | None = None
    for i in range(n - 1, len(times)):
        if times[i] - times[i - n + 1] <= window:
            until = times[i] + lockout
    return until if until is not None and until > now else None


def _lock(
    session: Session, settings: Settings, account_hash: str, address_hash: str, now: dt.datetime
) -> dt.datetime | None:
    since = now - dt.timedelta(minutes=settings.login_window_minutes + settings.lockout_minutes)
    # A successful sign-in clears the account's count, not the address's: an attacker holding
    # one account must not reset the count of the address they guess others' passwords from.
    success = repository.last_success(session, account_hash)
    account_since = max(since, aware(success)) if success is not None else since
    ends = [
        locked_until(
            settings,
            repository.failure_times(session, account_hash=account_hash, since=account_since),
            now,
        ),
        locked_until(
            settings, repository.failure_times(session, address_hash=address_hash, since=since), now
        ),
    ]
    found = [e for e in ends if e is not None]
    return max(found) if found else None


def _locked_out(until: dt.datetime, now: dt.datetime) -> LockedOut:
    wait = max(1, math.ceil((until - now).total_seconds()))
    return LockedOut(
        f"too many failed sign-ins: try again in {math.ceil(wait / 60)} minute(s)",
        retry_after=wait,
    )


def _deny(session: Session, account: StaffAccount | None, reason: str) -> None:
    audit.append(
        session,
        audit.Event(
            actor=account.email if account else UNKNOWN_ACTOR,
            role=account.role if account else "none",
            action="sign_in_failed",
            decision="deny",
            reason=reason,
        ),
    )


def sign_in(
    session: Session,
    policy: LoadedPolicy,
    settings: Settings,
    secrets: Secrets,
    *,
    email: str,
    password: str,
    code: str,
    address: str,
    previous_token: str | None = None,
    now: dt.datetime,
) -> SignedIn:
    """Check e-mail, password and code; open a new session, ending the browser's previous one.

    Refuses with :class:`LockedOut` while the account or the address is locked (even with the
    right credentials), :class:`SignInFailed` without saying what was wrong, and
    :class:`AccountInactive` when the right credentials belong to a disabled, expired or
    unenrolled account.
    """
    address_key = throttle_key(secrets, "address", address)
    normalised = email.strip().lower()
    account_key = throttle_key(secrets, "account", normalised)
    until = _lock(session, settings, account_key, address_key, now)
    account = repository.account_by_email(session, normalised) if normalised else None
    if until is not None:
        _deny(session, account, "locked out")
        raise _locked_out(until, now)
    reason: str | None = None
    # Verified even for unknown accounts (against a dummy hash): the time taken tells nothing.
    if not passwords.verify(account.password_hash if account else None, password):
        reason = "wrong password" if account else "unknown account"
    elif account is not None and account.totp_secret is not None:
        role = staff.role_of(policy, account)
        if code.strip() or staff.requires_mfa(policy, role):
            secret = staff.totp_secret(secrets, account)
            step = totp.matching_step(secret, code, now, account.totp_last_step)
            if step is None:
                reason = "wrong or reused code"
            else:
                account.totp_last_step = step
    if reason is not None or account is None or account.password_hash is None:
        session.add(
            LoginAttempt(at=now, account_hash=account_key, address_hash=address_key, success=False)
        )
        session.flush()
        _deny(session, account, reason or "not enrolled")
        if account is not None:
            account.failed_logins += 1
        until = _lock(session, settings, account_key, address_key, now)
        if until is not None:
            if account is not None:
                account.locked_until = until
            raise _locked_out(until, now)
        raise SignInFailed(GENERIC)
    session.add(
        LoginAttempt(at=now, account_hash=account_key, address_hash=address_key, success=True)
    )
    current = staff.state(account, now)
    if current != "active":
        _deny(session, account, f"account {current}")
        raise AccountInactive(f"this account is {current}; ask the administrator of the console")
    if passwords.needs_rehash(account.password_hash):
        account.password_hash = passwords.hash_password(password)
    account.failed_logins = 0
    account.locked_until = None
    account.last_login_at = now
    sessions.end_token(session, previous_token, now)
    started = sessions.start(session, account.id, now)
    audit.append(session, audit.Event(actor=account.email, role=account.role, action="sign_in"))
    return SignedIn(account, started.token, started.row.csrf_token)


def sign_out(session: Session, account: StaffAccount, token: str, *, now: dt.datetime) -> None:
    """End the session a cookie value names, and audit it."""
    sessions.end_token(session, token, now)
    audit.append(session, audit.Event(actor=account.email, role=account.role, action="sign_out"))

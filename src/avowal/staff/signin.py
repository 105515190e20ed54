"""Sign-in: password and TOTP, throttled per account and address, with ceilings and back-off.

Refusals carry ``keep_audit``: the failed attempt (counted for throttling) and its audit entry
are kept although the request fails (:func:`avowal.lib.deps.settle`).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import math
from collections.abc import Sequence
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


@dataclass(frozen=True)
class Backoff:
    """A limit: ``free`` failures, then a lock from the last one that doubles up to ``cap``."""

    free: int
    first: dt.timedelta
    cap: dt.timedelta

    def until(self, failures: Sequence[dt.datetime], now: dt.datetime) -> dt.datetime | None:
        """Return when the lock after these failures (oldest first) ends, or None if none runs.

        The ``free``-th failure locks for ``first``, each further one for twice as long as the
        one before, never longer than ``cap``.
        """
        if len(failures) < self.free:
            return None
        doublings = min(len(failures) - self.free, 32)
        end = aware(failures[-1]) + min(self.cap, self.first * 2**doublings)
        return end if end > now else None


@dataclass(frozen=True)
class Throttle:
    """The three limits of sign-in, from the settings.

    ``pair``: failures for one account from one address lock only that account from that
    address, so a colleague typing someone's e-mail locks only their own address out of it.
    ``account``: a much higher ceiling for one account from all addresses (guessing from many).
    ``address``: a ceiling on how many *accounts* fail from one address (one password tried on
    many accounts); failures for one account count once, so they never lock another account
    behind the same address.
    """

    pair: Backoff
    account: Backoff
    address: Backoff
    window: dt.timedelta

    @classmethod
    def of(cls, settings: Settings) -> Throttle:
        """Return the throttle the settings describe."""
        first = dt.timedelta(minutes=settings.lockout_minutes)
        cap = dt.timedelta(minutes=max(settings.lockout_max_minutes, settings.lockout_minutes))
        return cls(
            pair=Backoff(settings.login_max_failures, first, cap),
            account=Backoff(settings.login_account_max_failures, first, cap),
            address=Backoff(settings.login_address_max_accounts, first, cap),
            window=dt.timedelta(minutes=settings.login_window_minutes),
        )


def _lock(
    session: Session, settings: Settings, account_hash: str, address_hash: str, now: dt.datetime
) -> dt.datetime | None:
    throttle = Throttle.of(settings)
    since = now - throttle.window

    def after_success(success: dt.datetime | None) -> dt.datetime:
        return max(since, aware(success)) if success is not None else since

    # A success clears the counts of its account and pair, not the address's: an attacker
    # holding one account must not reset the count of the address they try others' from.
    pair_since = after_success(repository.last_success(session, account_hash, address_hash))
    account_since = after_success(repository.last_success(session, account_hash))
    ends = [
        throttle.pair.until(
            repository.failure_times(
                session, account_hash=account_hash, address_hash=address_hash, since=pair_since
            ),
            now,
        ),
        throttle.account.until(
            repository.failure_times(session, account_hash=account_hash, since=account_since),
            now,
        ),
        throttle.address.until(repository.failing_accounts(session, address_hash, since), now),
    ]
    found = [e for e in ends if e is not None]
    return max(found) if found else None


def _locked_out(until: dt.datetime, now: dt.datetime) -> LockedOut:
    wait = max(1, math.ceil((until - now).total_seconds()))
    exc = LockedOut(
        f"too many failed sign-ins: try again in {math.ceil(wait / 60)} minute(s)",
        retry_after=wait,
    )
    exc.keep_audit = True  # the refusal is audited (_deny)
    return exc


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
        failed = SignInFailed(GENERIC)
        failed.keep_audit = True  # the attempt and its audit entry are kept
        raise failed
    session.add(
        LoginAttempt(at=now, account_hash=account_key, address_hash=address_key, success=True)
    )
    current = staff.state(account, now)
    if current != "active":
        _deny(session, account, f"account {current}")
        inactive = AccountInactive(
            f"this account is {current}; ask the administrator of the console"
        )
        inactive.keep_audit = True
        raise inactive
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

"""Refusals of the staff domain: each names the rule it enforces."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class StaffError(AvowalError):
    """A staff account request that breaks a rule of the policy (role, kind, expiry, e-mail)."""

    status_code = 400
    error = "invalid_staff_request"


class UnknownAccount(StaffError):
    status_code = 404
    error = "unknown_staff_account"


class WeakPassword(AvowalError):
    """A password refused by one of the policy's password rules (``rule`` names it)."""

    status_code = 400
    error = "weak_password"


class EnrolmentInvalid(AvowalError):
    """An enrolment link that is unknown, used already, expired or of a disabled account."""

    status_code = 410
    error = "enrolment_invalid"


class WrongCode(AvowalError):
    """A TOTP code that is wrong, or was used already."""

    status_code = 400
    error = "wrong_code"


class SignInFailed(AvowalError):
    """Sign-in refused; the message never says which of e-mail, password or code was wrong."""

    status_code = 401
    error = "sign_in_failed"


class LockedOut(AvowalError):
    """Too many failed sign-ins for the account or the address: wait ``retry_after`` seconds."""

    status_code = 429
    error = "locked_out"

    def __init__(self, message: str, *, retry_after: int) -> None:
        super().__init__(message, retry_after=retry_after)
        self.retry_after = retry_after
        self.headers = {"Retry-After": str(retry_after)}


class AccountInactive(AvowalError):
    """The account is disabled or expired (or, signing in, not enrolled): no access at all."""

    status_code = 403
    error = "account_inactive"

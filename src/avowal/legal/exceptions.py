"""Refusals of legal requests and break-glass access, each naming the rule it keeps."""

from __future__ import annotations

from avowal.lib.errors import AvowalError
from avowal.staff.exceptions import AccountInactive as AccountInactive  # one rule: staff's


class InvalidLegalRequest(AvowalError):
    """A legal request that cannot be registered as given (bad scope, date or recipient)."""

    status_code = 422
    error = "invalid_legal_request"


class RecipientNotAuthority(AvowalError):
    """The recipient is not an authority the policy reserves legal disclosures to."""

    status_code = 422
    error = "recipient_not_authority"


class NotPrivacyOfficer(AvowalError):
    """The account's role does not grant essential.legal_obligation."""

    status_code = 403
    error = "not_privacy_officer"


class FourEyesRequired(AvowalError):
    """A privacy officer tried to decide on their own legal request."""

    status_code = 403
    error = "four_eyes_required"


class LegalRequestNotFound(AvowalError):
    status_code = 404
    error = "legal_request_not_found"


class LegalRequestState(AvowalError):
    """The request is not in the state the action needs (pending, approved, not yet exported)."""

    status_code = 409
    error = "legal_request_wrong_state"


class BreakGlassRefused(AvowalError):
    """A break-glass grant that cannot be started as asked."""

    status_code = 422
    error = "break_glass_refused"


class BreakGlassNotAllowed(AvowalError):
    """The policy does not let this role or kind of staff open, or approve, break-glass access."""

    status_code = 403
    error = "break_glass_not_allowed"


class BreakGlassNotFound(AvowalError):
    status_code = 404
    error = "break_glass_not_found"


class BreakGlassExpired(AvowalError):
    """The grant is over (expired or ended): access under it is refused."""

    status_code = 403
    error = "break_glass_expired"

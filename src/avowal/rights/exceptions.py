"""Refusals of the privacy center, of rights requests and of cases."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class LinkInvalid(AvowalError):
    """A sign-in or identity link that was never issued (or forged)."""

    status_code = 404
    error = "link_invalid"


class LinkUsed(AvowalError):
    status_code = 410
    error = "link_used"


class LinkExpired(AvowalError):
    status_code = 410
    error = "link_expired"


class NotSignedIn(AvowalError):
    status_code = 401
    error = "not_signed_in"


class NotTheirs(AvowalError):
    """A signed-in person asked for something of someone else: answered as not found."""

    status_code = 404
    error = "not_found"


class RightNotAllowed(AvowalError):
    """A caller whose role may not act on a person's rights request."""

    status_code = 403
    error = "rights_not_allowed"
    keep_audit = True


class NotCorrectable(AvowalError):
    status_code = 409
    error = "not_correctable"


class NotWithdrawable(AvowalError):
    status_code = 409
    error = "not_withdrawable"


class NotObjectable(AvowalError):
    status_code = 409
    error = "not_objectable"


class ConfirmationRequired(AvowalError):
    status_code = 422
    error = "confirmation_required"


class PersonLocked(AvowalError):
    status_code = 409
    error = "parental_consent_pending"


class ContactUnavailable(AvowalError):
    """The policy declares no contact point to hold a question or a request."""

    status_code = 404
    error = "contact_unavailable"


class CaseNotFound(AvowalError):
    status_code = 404
    error = "case_not_found"


class CaseClosed(AvowalError):
    status_code = 409
    error = "case_closed"


class InvalidExtension(AvowalError):
    status_code = 422
    error = "invalid_extension"


class IdentityNotChecked(AvowalError):
    status_code = 409
    error = "identity_not_checked"

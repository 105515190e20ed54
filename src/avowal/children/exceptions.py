"""Refusals of the age gate and of parental consent."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class MinorNotAdmitted(AvowalError):
    status_code = 403
    error = "minor_not_admitted"


class AgeRequired(AvowalError):
    status_code = 422
    error = "age_required"


class ParentRequired(AvowalError):
    status_code = 422
    error = "parent_required"


class StaleParentNotice(AvowalError):
    status_code = 409
    error = "parent_notice_not_current"


class ParentalMailUnavailable(AvowalError):
    status_code = 503
    error = "parental_consent_unavailable"


class ParentalConsentPending(AvowalError):
    status_code = 403
    error = "parental_consent_pending"
    keep_audit = True


class LinkInvalid(AvowalError):
    status_code = 404
    error = "link_invalid"


class LinkUsed(AvowalError):
    status_code = 410
    error = "link_used"


class LinkExpired(AvowalError):
    status_code = 410
    error = "link_expired"


class NowOfAge(AvowalError):
    status_code = 409
    error = "now_of_age"


class UnknownOptionalPurpose(AvowalError):
    status_code = 422
    error = "unknown_optional_purpose"

"""Refusals of the vault, each naming the field or rule and the promise it keeps."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class UnknownPoint(AvowalError):
    status_code = 404
    error = "unknown_collection_point"


class UnknownField(AvowalError):
    status_code = 422
    error = "unknown_field"


class MissingField(AvowalError):
    status_code = 422
    error = "missing_field"


class InvalidValue(AvowalError):
    status_code = 422
    error = "invalid_value"


class StaleNotice(AvowalError):
    status_code = 409
    error = "notice_not_current"


class InvalidSubject(AvowalError):
    status_code = 422
    error = "invalid_subject"


class SubjectNotFound(AvowalError):
    status_code = 404
    error = "subject_not_found"


class SubjectErased(AvowalError):
    status_code = 410
    error = "subject_erased"


class UnknownPurpose(AvowalError):
    status_code = 400
    error = "unknown_purpose"


class UnknownRecipient(AvowalError):
    status_code = 400
    error = "unknown_recipient"


class RecipientNotAnnounced(AvowalError):
    status_code = 403
    error = "recipient_not_announced"
    keep_audit = True


class ErasureNotAllowed(AvowalError):
    status_code = 403
    error = "erasure_not_allowed"
    keep_audit = True


class ClosureNotAllowed(AvowalError):
    status_code = 403
    error = "closure_not_allowed"
    keep_audit = True


class LookupNotAllowed(AvowalError):
    status_code = 400
    error = "lookup_not_allowed"


class ReceiptNotFound(AvowalError):
    status_code = 404
    error = "receipt_not_found"


class RecipientNotDeclared(AvowalError):
    """The policy does not declare the recipient for this purpose or these data categories."""

    status_code = 403
    error = "recipient_not_declared"
    keep_audit = True


class ConsentRequired(AvowalError):
    """The use or the recipient was added to the notice after the values were collected."""

    status_code = 403
    error = "consent_required"
    keep_audit = True


class NothingToExtend(AvowalError):
    """No value held at the point is under an earlier notice: there is nothing to consent to."""

    status_code = 409
    error = "nothing_to_consent"

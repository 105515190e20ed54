"""Refusals of the policy lifecycle, each naming the rule it keeps."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class VersionExists(AvowalError):
    status_code = 409
    error = "version_exists"


class NoticeTooShort(AvowalError):
    status_code = 422
    error = "notice_period_too_short"


class EffectiveDateMismatch(AvowalError):
    status_code = 422
    error = "effective_date_mismatch"


class UnpublishedPolicy(AvowalError):
    status_code = 409
    error = "policy_not_published"


class UnknownVersion(AvowalError):
    status_code = 404
    error = "unknown_version"


class MalformedVersionId(AvowalError):
    status_code = 422
    error = "malformed_version_id"


class AmbiguousVersion(AvowalError):
    status_code = 400
    error = "ambiguous_version"


class SameVersion(AvowalError):
    status_code = 400
    error = "same_version"


class MissingVersion(AvowalError):
    status_code = 422
    error = "missing_version"

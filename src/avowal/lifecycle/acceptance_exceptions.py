"""Refusals of acceptance records, each naming the rule it keeps."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class AlreadyAccepted(AvowalError):
    status_code = 409
    error = "already_accepted"


class VersionNotOpen(AvowalError):
    """Only the version in effect or an announced one can be accepted."""

    status_code = 409
    error = "version_not_current"


class PurposeNotForAcceptances(AvowalError):
    status_code = 403
    error = "purpose_not_allowed"

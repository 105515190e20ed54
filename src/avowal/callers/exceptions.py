"""Refusals about who is calling."""

from __future__ import annotations

from avowal.lib.errors import AvowalError


class NotAuthenticated(AvowalError):
    status_code = 401
    error = "not_authenticated"
    headers = {"WWW-Authenticate": "Bearer"}  # noqa: RUF012


class PurposeNotGranted(AvowalError):
    status_code = 403
    error = "purpose_not_granted"
    keep_audit = True


class TokenError(AvowalError):
    status_code = 400
    error = "invalid_token_request"


class NotAServiceRole(TokenError):
    error = "not_a_service_role"

"""Refusals of the analytics domain; each names the rule and the promise it protects."""

from __future__ import annotations

from avowal.lib.errors import AvowalError

NO_IDENTIFIERS = "analytics keep nothing that identifies a visitor"


class MalformedPayload(AvowalError):
    """The body is not a JSON object."""

    status_code = 400
    error = "malformed_payload"


class InvalidEvent(AvowalError):
    """A field of the event breaks a rule (missing, too long, wrong type)."""

    status_code = 400
    error = "invalid_event"


class UnknownSite(AvowalError):
    """No counted site has this domain (an event's, a dashboard's, a share link's)."""

    status_code = 404
    error = "unknown_site"


class AnalyticsDisabled(AvowalError):
    """The policy does not enable analytics: no site is counted."""

    status_code = 403
    error = "analytics_disabled"


class PayloadTooLarge(AvowalError):
    """The body is larger than an analytics event may be."""

    status_code = 413
    error = "payload_too_large"


class UnsupportedMediaType(AvowalError):
    """The body is neither application/json nor text/plain."""

    status_code = 415
    error = "unsupported_media_type"


class OriginNotAllowed(AvowalError):
    """A cross-origin pre-flight from a page that is not a declared site."""

    status_code = 403
    error = "origin_not_allowed"


class IngestUnavailable(AvowalError):
    """The event could not be committed; it was not stored and may be sent again."""

    status_code = 503
    error = "ingest_unavailable"
    headers = {"Retry-After": "5"}  # noqa: RUF012 (read only, like the base's default)


class SiteError(AvowalError):
    """Base of site-management refusals (CLI)."""


class InvalidDomain(SiteError):
    error = "invalid_domain"


class SiteExists(SiteError):
    status_code = 409
    error = "site_exists"


class SiteNotFound(SiteError):
    status_code = 404
    error = "site_not_found"


class SiteInPolicy(SiteError):
    status_code = 409
    error = "site_in_policy"


PENDING_RETRY = 30  # seconds: about a worker pass


class FiltersPending(AvowalError):
    """A filtered view of a large range is still being prepared: ask again shortly."""

    status_code = 503
    error = "filters_pending"
    headers = {"Retry-After": str(PENDING_RETRY)}  # noqa: RUF012 - one constant for all

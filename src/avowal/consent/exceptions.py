"""Refusals of the cookie consent domain; each names the rule and the promise it protects."""

from __future__ import annotations

from avowal.lib.errors import AvowalError

# The promise the consent endpoint keeps: cookies may be refused, category by category.
REFUSAL = "cookies may be refused category by category"


class BannerVersionStale(AvowalError):
    """The choice was made on a banner that no longer shows the declared cookies: ask again."""

    status_code = 409
    error = "banner_version_stale"


class CategoriesNotChoosable(AvowalError):
    """The choice grants categories the banner does not offer (unknown or strictly necessary)."""

    status_code = 422
    error = "categories_not_choosable"


class ConsentNotFound(AvowalError):
    """No choice was ever recorded under this consent id."""

    status_code = 404
    error = "unknown_consent_id"


class OriginNotAllowed(AvowalError):
    """A browser page of a site this server does not serve sent (or pre-flighted) a choice."""

    status_code = 403
    error = "origin_not_allowed"


class GpcNotHonoured(AvowalError):
    """The policy does not promise to honour Global Privacy Control: no gpc.json is served."""

    status_code = 404
    error = "gpc_not_honoured"


class PurposeNotForCookieConsents(AvowalError):
    """Linked cookie consents are read to serve the person or for legal obligations only."""

    status_code = 403
    error = "purpose_not_for_cookie_consents"

"""Read-only share links: one per site, a random token stored only as its SHA-256.

Whoever holds ``{public_url}/share/{token}`` sees the site's dashboard (aggregate, anonymous
figures) without signing in; ``avowal analytics unshare`` ends it at once. Creating a link again
replaces the previous one.
"""

from __future__ import annotations

import hashlib
import secrets

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.analytics.exceptions import UnknownSite
from avowal.analytics.models import Site
from avowal.lib.errors import AvowalError


class ShareLinkInvalid(AvowalError):
    status_code = 404
    error = "share_link_invalid"


def _digest(token: str) -> str:
    # 256 random bits: a fast hash is enough to make the stored value useless to a reader.
    return hashlib.sha256(token.encode()).hexdigest()


def _site(session: Session, domain: str) -> Site:
    site = session.scalar(select(Site).where(Site.domain == domain))
    if site is None:
        raise UnknownSite(f"no analytics site '{domain}'", domain=domain)
    return site


def create(session: Session, domain: str) -> str:
    """Create (or replace) a site's share link token; return the token, shown once."""
    site = _site(session, domain)
    token = secrets.token_urlsafe(32)
    site.share_token_hash = _digest(token)
    session.flush()
    return token


def revoke(session: Session, domain: str) -> bool:
    """End a site's share link; return whether there was one."""
    site = _site(session, domain)
    had = site.share_token_hash is not None
    site.share_token_hash = None
    session.flush()
    return had


def url(public_url: str, token: str) -> str:
    """Return the address of a share link."""
    return f"{public_url.rstrip('/')}/share/{token}"


def resolve(session: Session, token: str) -> str:
    """Return the domain a share token opens, or refuse with 404."""
    # A token is 43 characters; anything else is not worth a query.
    if len(token) != 43:
        raise ShareLinkInvalid("this share link is not valid (or was withdrawn)")
    domain = session.scalar(select(Site.domain).where(Site.share_token_hash == _digest(token)))
    if domain is None:
        raise ShareLinkInvalid("this share link is not valid (or was withdrawn)")
    return domain

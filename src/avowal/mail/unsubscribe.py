"""Unsubscribe links: signed (HMAC under a key derived from the vault's index key), for one
person and one purpose. Unlike a parent's link they keep working: no nonce, no expiry, since an
objection must be possible for as long as the messages are read."""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass

from avowal.crypto.service import Secrets
from avowal.mail.exceptions import UnsubscribeInvalid


def _key(secrets: Secrets) -> bytes:
    return hmac.new(secrets.index_key, b"avowal unsubscribe links", hashlib.sha256).digest()


def _mac(secrets: Secrets, subject_id: str, purpose: str) -> str:
    msg = f"{subject_id}\0{purpose}".encode()
    return hmac.new(_key(secrets), msg, hashlib.sha256).hexdigest()[:32]


def token(secrets: Secrets, subject_id: str, purpose: str) -> str:
    """Return the signed token of a person's unsubscribe from ``purpose``."""
    return f"{subject_id}.{purpose}.{_mac(secrets, subject_id, purpose)}"


def link(public_url: str, token: str) -> str:
    """Return the page (and the RFC 8058 one-click target) a token opens."""
    return f"{public_url.rstrip('/')}/privacy/unsubscribe/{token}"


@dataclass(frozen=True)
class Opened:
    """A verified token: whose and for what."""

    subject_id: str
    purpose: str


def open_token(secrets: Secrets, token: str) -> Opened:
    """Verify a token's signature; a forged one is refused (404)."""
    subject_id, _, rest = token.partition(".")
    purpose, _, mac = rest.rpartition(".")
    if (
        not subject_id
        or not purpose
        or not hmac.compare_digest(mac, _mac(secrets, subject_id, purpose))
    ):
        raise UnsubscribeInvalid("this link is not valid")
    return Opened(subject_id, purpose)

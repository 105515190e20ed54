"""The parent's links: signed (HMAC under a key derived from the vault's index key), single-use
(only a digest of the nonce is kept, cleared once used) and, for an answer, only within the
waiting period."""

from __future__ import annotations

import hashlib
import hmac
import secrets as random
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.children.exceptions import LinkExpired, LinkInvalid, LinkUsed
from avowal.children.models import ParentalConsent
from avowal.crypto.service import Secrets
from avowal.lib import clock

ANSWER, REVOKE = "answer", "revoke"


def _link_key(secrets: Secrets) -> bytes:
    return hmac.new(secrets.index_key, b"avowal parental consent links", hashlib.sha256).digest()


def _mac(secrets: Secrets, request_id: str, action: str, nonce: str) -> str:
    msg = f"{request_id}.{action}.{nonce}".encode()
    return hmac.new(_link_key(secrets), msg, hashlib.sha256).hexdigest()[:32]


def _digest(nonce: str) -> str:
    return hashlib.sha256(nonce.encode()).hexdigest()


def token(secrets: Secrets, request_id: str, action: str) -> tuple[str, str]:
    """Return a signed single-use token for ``action`` and the digest of its nonce to keep."""
    nonce = random.token_urlsafe(24)
    return f"{request_id}.{action}.{nonce}.{_mac(secrets, request_id, action, nonce)}", _digest(
        nonce
    )


def link(public_url: str, token: str) -> str:
    """Return the page a token opens."""
    return f"{public_url.rstrip('/')}/privacy/parent/{token}"


@dataclass(frozen=True)
class Opened:
    """A verified link: its request and what it is for."""

    row: ParentalConsent
    action: str


def open_link(session: Session, secrets: Secrets, token: str, *, lock: bool = False) -> Opened:
    """Verify a link's signature, its use and its age; return its request.

    A forged or unknown link is 404; one used already, or for a request that has closed, 410;
    an answer link after the waiting period, 410.
    """
    parts = token.split(".")
    if len(parts) != 4 or parts[1] not in (ANSWER, REVOKE):
        raise LinkInvalid("this link is not valid")
    request_id, action, nonce, mac = parts
    if not hmac.compare_digest(mac, _mac(secrets, request_id, action, nonce)):
        raise LinkInvalid("this link is not valid")
    query = select(ParentalConsent).where(ParentalConsent.id == request_id)
    row = session.scalar(query.with_for_update() if lock else query)
    if row is None:
        raise LinkInvalid("this link is not valid")
    kept = row.answer_nonce if action == ANSWER else row.revoke_nonce
    if kept is None or not hmac.compare_digest(kept, _digest(nonce)):
        raise LinkUsed("this link has been used already", status=row.status)
    if action == ANSWER and clock.aware(row.expires_at) <= clock.now():
        raise LinkExpired("the time to answer is over; the data was or will be erased")
    return Opened(row, action)

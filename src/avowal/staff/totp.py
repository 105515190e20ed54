"""TOTP (RFC 6238): secrets kept encrypted, codes checked once each, QR codes for enrolment."""

from __future__ import annotations

import base64
import datetime as dt
import hmac
import io
import secrets

import pyotp
import segno
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

STEP = 30
DIGITS = 6
WINDOW = 1  # one step either side: clocks of phones drift
NONCE = 12


def new_secret() -> str:
    """Return a fresh random base32 secret (160 bits, as RFC 4226 recommends)."""
    return pyotp.random_base32(32)


def _key(index_key: bytes) -> bytes:
    return HKDF(algorithm=hashes.SHA256(), length=32, salt=None, info=b"avowal totp").derive(
        index_key
    )


def _aad(account_id: int) -> bytes:
    # Bound to its account: a secret copied to another account's row will not decrypt.
    return f"avowal totp\0{account_id}".encode()


def encrypt(index_key: bytes, account_id: int, secret: str) -> bytes:
    """Encrypt a TOTP secret for one account (AES-256-GCM, random nonce)."""
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(_key(index_key)).encrypt(nonce, secret.encode(), _aad(account_id))


def decrypt(index_key: bytes, account_id: int, blob: bytes) -> str:
    """Decrypt an account's TOTP secret; raises ``InvalidTag`` if it was altered or moved."""
    return AESGCM(_key(index_key)).decrypt(blob[:NONCE], blob[NONCE:], _aad(account_id)).decode()


def matching_step(secret: str, code: str, now: dt.datetime, last_step: int | None) -> int | None:
    """Return the time step ``code`` is valid for, or None; a used step never matches again.

    A step at or before ``last_step`` (the account's last accepted code) is refused: no replay.
    """
    code = code.strip().replace(" ", "")
    if len(code) != DIGITS or not code.isdigit():
        return None
    totp = pyotp.TOTP(secret, digits=DIGITS, interval=STEP)
    current = int(now.timestamp()) // STEP
    found: int | None = None
    for step in range(current - WINDOW, current + WINDOW + 1):
        # Compare every candidate so the time taken does not depend on which one matched.
        if hmac.compare_digest(totp.at(step * STEP), code) and found is None:
            found = step
    if found is None or (last_step is not None and found <= last_step):
        return None
    return found


def provisioning_uri(secret: str, email: str, issuer: str) -> str:
    """Return the otpauth:// URI an authenticator app reads from the QR code."""
    return pyotp.TOTP(secret, digits=DIGITS, interval=STEP).provisioning_uri(
        name=email, issuer_name=issuer
    )


def qr_data_uri(uri: str) -> str:
    """Return the QR code of ``uri`` as an SVG data: URI (an <img>, no inline script or style)."""
    out = io.BytesIO()
    segno.make(uri, error="m").save(out, kind="svg", scale=5, border=4, xmldecl=False)
    return "data:image/svg+xml;base64," + base64.b64encode(out.getvalue()).decode()


def group(secret: str) -> str:
    """Return the secret in groups of four characters, for typing it by hand."""
    return " ".join(secret[i : i + 4] for i in range(0, len(secret), 4))

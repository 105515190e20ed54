"""Per-value encryption, blind indexes and keyed hashes."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

NONCE = 12


def new_data_key() -> bytes:
    """Return a fresh random AES-256 key for one person."""
    return secrets.token_bytes(32)


def _aad(subject_id: str, point: str, field: str) -> bytes:
    # Binding the value to its subject and field: a ciphertext copied elsewhere will not decrypt.
    return f"avowal value\0{subject_id}\0{point}\0{field}".encode()


def encrypt(data_key: bytes, subject_id: str, point: str, field: str, plaintext: str) -> bytes:
    """Encrypt one value with the person's data key (AES-256-GCM, random nonce)."""
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(data_key).encrypt(
        nonce, plaintext.encode(), _aad(subject_id, point, field)
    )


def decrypt(data_key: bytes, subject_id: str, point: str, field: str, blob: bytes) -> str:
    """Decrypt one value; raises ``cryptography.exceptions.InvalidTag`` if it was altered."""
    aes = AESGCM(data_key)
    return aes.decrypt(blob[:NONCE], blob[NONCE:], _aad(subject_id, point, field)).decode()


def seal(key: bytes, aad: bytes, plaintext: bytes) -> bytes:
    """Encrypt bytes under ``key`` bound to ``aad`` (AES-256-GCM, random nonce)."""
    nonce = secrets.token_bytes(NONCE)
    return nonce + AESGCM(key).encrypt(nonce, plaintext, aad)


def unseal(key: bytes, aad: bytes, blob: bytes) -> bytes:
    """Decrypt what :func:`seal` made; raises ``InvalidTag`` if it was altered or moved."""
    return AESGCM(key).decrypt(blob[:NONCE], blob[NONCE:], aad)


def blind_index(index_key: bytes, field: str, normalised: str) -> bytes:
    """Return the lookup digest of a normalised value (HMAC-SHA256 with the index key)."""
    msg = f"lookup\0{field}\0{normalised}".encode()
    return hmac.new(index_key, msg, hashlib.sha256).digest()


def keyed_hash(index_key: bytes, field: str, value: str) -> str:
    """Return the stored fingerprint for fields kept under the ``hash`` storage rule."""
    msg = f"stored\0{field}\0{value}".encode()
    return hmac.new(index_key, msg, hashlib.sha256).hexdigest()

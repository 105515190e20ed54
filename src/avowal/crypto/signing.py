"""Ed25519 signatures on receipts and audit checkpoints, verifiable with the public key."""

from __future__ import annotations

import base64
import hashlib
import json
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from avowal.crypto.exceptions import KeyError_
from avowal.crypto.keyring import write_private


def canonical(doc: dict[str, Any]) -> bytes:
    """Encode a document the one way that is signed: sorted keys, no spaces, UTF-8."""
    return json.dumps(doc, sort_keys=True, separators=(",", ":"), ensure_ascii=False).encode()


def public_key_id(public: Ed25519PublicKey) -> str:
    """Return a short fingerprint of a public key."""
    raw = public.public_bytes(serialization.Encoding.Raw, serialization.PublicFormat.Raw)
    return "sk-" + hashlib.sha256(raw).hexdigest()[:16]


def public_pem(public: Ed25519PublicKey) -> str:
    """Return the public key as PEM text."""
    pem = public.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return pem.decode()


def load_or_create(path: Path, *, create: bool) -> Ed25519PrivateKey:
    """Read the signing key (PEM), generating it first when ``create`` is set and it is missing."""
    if not path.exists():
        if not create:
            raise KeyError_(f"signing key file {path} does not exist")
        key = Ed25519PrivateKey.generate()
        pem = key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        if write_private(path, pem, exclusive=True):
            return key
    try:
        loaded = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError) as exc:
        raise KeyError_(f"signing key file {path} is not a PEM private key: {exc}") from None
    if not isinstance(loaded, Ed25519PrivateKey):
        raise KeyError_(f"signing key file {path} is not an Ed25519 key")
    return loaded


def sign(key: Ed25519PrivateKey, doc: dict[str, Any]) -> str:
    """Sign a document; return the base64 signature."""
    return base64.b64encode(key.sign(canonical(doc))).decode()


def verify(public: Ed25519PublicKey, doc: dict[str, Any], signature: str) -> bool:
    """Tell whether ``signature`` is the key's signature of ``doc``."""
    try:
        public.verify(base64.b64decode(signature, validate=True), canonical(doc))
    except (InvalidSignature, ValueError):
        return False
    return True


def load_public_pem(text: str) -> Ed25519PublicKey:
    """Parse a PEM public key, refusing any key that is not Ed25519."""
    key = serialization.load_pem_public_key(text.encode())
    if not isinstance(key, Ed25519PublicKey):
        raise ValueError("not an Ed25519 public key")
    return key

"""Load the server's keys: generated for development, required and checked in production."""

from __future__ import annotations

import base64
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from avowal.crypto import signing
from avowal.crypto.exceptions import KeyError_
from avowal.crypto.keyring import Keyring, write_private
from avowal.lib import files
from avowal.settings import Settings


@dataclass
class Secrets:
    """Every key the server holds."""

    keyring: Keyring
    index_key: bytes
    signing_key: Ed25519PrivateKey

    @property
    def signing_key_id(self) -> str:
        """Return the public fingerprint of the signing key."""
        return signing.public_key_id(self.signing_key.public_key())


def index_key(path: Path, *, create: bool) -> bytes:
    if not path.exists():
        if not create:
            raise KeyError_(f"index key file {path} does not exist")
        key = secrets.token_bytes(32)
        if write_private(path, base64.b64encode(key) + b"\n", exclusive=True):
            return key
    try:
        key = base64.b64decode(path.read_text().strip(), validate=True)
    except (OSError, ValueError) as exc:
        raise KeyError_(f"index key file {path} is not base64: {exc}") from None
    if len(key) != 32:
        raise KeyError_(f"index key file {path} must hold 32 bytes, not {len(key)}")
    return key


def check_private(path: Path, *, production: bool) -> None:
    """Refuse (production) or close (otherwise) a key file that group or others may read.

    As ssh does with a private key: a key others can read is no longer the server's alone.
    Outside production the key files are ones avowal generated, so it tightens them itself.
    """
    mode = files.open_mode(path)
    if mode is None:
        return
    if production:
        raise KeyError_(
            f"key file {path} can be read by other users (mode {mode:04o}); production refuses "
            f"key files that are not private to their owner: run `chmod 600 {path}`"
        )
    files.make_private(path)


def load(settings: Settings) -> Secrets:
    """Load (in development, first create) the keys; refuse development keys in production.

    Production also refuses a key file that group or others can read.
    """
    production = settings.env == "production"
    create = not production
    for key_file in (
        settings.master_key_path,
        settings.index_key_path,
        settings.signing_key_path,
    ):
        check_private(key_file, production=production)
    path = settings.master_key_path
    if path.exists():
        ring = Keyring.load(path)
    elif create:
        ring = Keyring.create(path, development=True)
    else:
        raise KeyError_(f"master key file {path} does not exist; set AVOWAL_MASTER_KEY_FILE")
    if production and ring.development:
        raise KeyError_(
            f"{path} is a development master key; production needs its own "
            "(create the production keys with `avowal keys init`)"
        )
    return Secrets(
        keyring=ring,
        index_key=index_key(settings.index_key_path, create=create),
        signing_key=signing.load_or_create(settings.signing_key_path, create=create),
    )

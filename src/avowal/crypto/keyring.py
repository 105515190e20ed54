"""The master keyring: the key that wraps every person's data key, plus keys being rotated out.

The keyring is a JSON file ``{"current": ID, "keys": {ID: base64}, "development": bool}``. A server
re-reads it when it meets a data key wrapped by a master key it does not know, so a rotation
(``avowal keys rotate``) needs no restart.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import secrets
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from avowal.crypto.exceptions import KeyError_, UnknownMasterKey
from avowal.lib import files

NONCE = 12


def key_id(key: bytes) -> str:
    """Return a short public fingerprint of a key (never the key)."""
    return "mk-" + hashlib.sha256(b"avowal master key id\0" + key).hexdigest()[:16]


def write_private(path: Path, data: bytes, *, exclusive: bool = False) -> bool:
    """Write a secret file atomically, readable by its owner only, in a folder only it enters.

    With ``exclusive`` an existing file is left alone and False is returned: several processes
    starting at once on an empty data folder then agree on the one key that was written first.
    """
    files.private_dir(path.parent)
    # mkstemp creates the file 0600 whatever the umask; link and replace keep that mode.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        if exclusive:
            try:
                os.link(tmp, path)
            except FileExistsError:
                return False
        else:
            os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return True


@dataclass
class Keyring:
    """Master keys by id; ``current`` wraps new data keys."""

    path: Path
    current: str
    keys: dict[str, bytes]
    development: bool = False
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)
    _mtime: float = field(default=0.0, repr=False)

    @classmethod
    def load(cls, path: Path) -> Keyring:
        """Read a keyring file, refusing one that is malformed."""
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
            keys = {k: base64.b64decode(v, validate=True) for k, v in raw["keys"].items()}
            current = str(raw["current"])
        except FileNotFoundError:
            raise KeyError_(f"master key file {path} does not exist") from None
        except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
            raise KeyError_(f"master key file {path} is not a valid keyring: {exc}") from None
        if current not in keys:
            raise KeyError_(f"master key file {path}: current key {current} is not in it")
        for kid, key in keys.items():
            if len(key) != 32 or key_id(key) != kid:
                raise KeyError_(f"master key file {path}: key {kid} is damaged")
        ring = cls(path, current, keys, bool(raw.get("development", False)))
        ring._mtime = path.stat().st_mtime
        return ring

    @classmethod
    def create(cls, path: Path, *, development: bool) -> Keyring:
        """Generate a keyring with one random 256-bit key; an existing file wins and is loaded."""
        key = secrets.token_bytes(32)
        ring = cls(path, key_id(key), {key_id(key): key}, development)
        if not write_private(path, ring._document(), exclusive=True):
            return cls.load(path)
        ring._mtime = path.stat().st_mtime
        return ring

    def _document(self) -> bytes:
        doc = {
            "current": self.current,
            "keys": {k: base64.b64encode(v).decode() for k, v in self.keys.items()},
            "development": self.development,
        }
        return json.dumps(doc, indent=2).encode()

    def save(self) -> None:
        """Write the keyring to its file atomically."""
        write_private(self.path, self._document())
        self._mtime = self.path.stat().st_mtime

    def add_new_current(self) -> str:
        """Generate a new master key, make it current (old keys stay until rotation ends)."""
        key = secrets.token_bytes(32)
        kid = key_id(key)
        self.keys[kid] = key
        self.current = kid
        self.development = False
        self.save()
        return kid

    def drop_all_but_current(self) -> list[str]:
        """Forget every master key but the current one; return the ids dropped."""
        dropped = [k for k in self.keys if k != self.current]
        self.keys = {self.current: self.keys[self.current]}
        self.save()
        return dropped

    def _reload(self) -> None:
        with self._lock:
            fresh = Keyring.load(self.path)
            self.keys, self.current, self._mtime = fresh.keys, fresh.current, fresh._mtime

    def _key(self, kid: str) -> bytes:
        key = self.keys.get(kid)
        if key is None:
            # A rotation elsewhere may have added the key since this server started.
            self._reload()
            key = self.keys.get(kid)
        if key is None:
            raise UnknownMasterKey(f"data key wrapped by unknown master key {kid}")
        return key

    def wrap(self, data_key: bytes, subject_id: str) -> tuple[str, bytes]:
        """Encrypt a data key under the current master key, bound to its subject."""
        try:
            changed = self.path.stat().st_mtime != self._mtime
        except OSError:
            changed = False
        if changed:
            # `avowal keys rotate` made a new key current: stop wrapping under the old one.
            self._reload()
        nonce = secrets.token_bytes(NONCE)
        blob = AESGCM(self.keys[self.current]).encrypt(nonce, data_key, _aad(subject_id))
        return self.current, nonce + blob

    def unwrap(self, kid: str, wrapped: bytes, subject_id: str) -> bytes:
        """Decrypt a data key; fail loudly if it was tampered with or moved to another subject."""
        try:
            return AESGCM(self._key(kid)).decrypt(
                wrapped[:NONCE], wrapped[NONCE:], _aad(subject_id)
            )
        except InvalidTag:
            raise KeyError_(f"the data key of subject {subject_id} does not authenticate") from None


def _aad(subject_id: str) -> bytes:
    return b"avowal data key\0" + subject_id.encode()

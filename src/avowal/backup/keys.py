"""The keys' backup: the three key files and the erasure journal, encrypted under a passphrase.

A database backup must never travel with the keys that open it, so the keys have their own
backup, sealed with a passphrase the operator keeps elsewhere: scrypt (n=2**15, r=8, p=1) derives
an AES-256-GCM key from it, and the file is ``AVOWALKEYS1`` + salt + nonce + the sealed JSON of
the files' bytes. The erasure journal is in it too: restored with the keys, it erases again on
the next database restore everyone erased before this backup was made.

Restoring writes each key file where the settings read it, private to its owner; a key file that
exists already is kept only when it is the same, and the journal is merged (every erasure of
either kept, in order), never replaced: an erasure noted since the backup is never lost.
"""

from __future__ import annotations

import base64
import json
import os
import secrets
from dataclasses import dataclass
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt

from avowal.crypto import setup
from avowal.crypto.keyring import write_private
from avowal.settings import Settings
from avowal.vault import journal

MAGIC = b"AVOWALKEYS1"
SALT, NONCE = 16, 12
MIN_PASSPHRASE = 12
JOURNAL = "erasure journal"


class KeysBackupError(Exception):
    """A keys backup or restore that cannot be done, with the reason for a person."""


def _key(passphrase: str, salt: bytes) -> bytes:
    if len(passphrase) < MIN_PASSPHRASE:
        raise KeysBackupError(f"the passphrase must be at least {MIN_PASSPHRASE} characters")
    return Scrypt(salt=salt, length=32, n=2**15, r=8, p=1).derive(passphrase.encode())


def _files(settings: Settings) -> dict[str, Path]:
    found = {k.name: k.path for k in setup.key_files(settings)}
    found[JOURNAL] = journal.path_of(settings)
    return found


def seal(settings: Settings, passphrase: str, output: Path) -> list[str]:
    """Write the encrypted backup of the keys (and the journal, when there is one) to
    ``output``, a new file; return the names of what it holds."""
    if output.exists():
        raise KeysBackupError(f"{output} exists; a backup is never overwritten")
    contents: dict[str, str] = {}
    for name, path in _files(settings).items():
        try:
            contents[name] = base64.b64encode(path.read_bytes()).decode()
        except FileNotFoundError:
            if name != JOURNAL:
                raise KeysBackupError(f"{name} {path} does not exist") from None
    salt, nonce = secrets.token_bytes(SALT), secrets.token_bytes(NONCE)
    sealed = AESGCM(_key(passphrase, salt)).encrypt(nonce, json.dumps(contents).encode(), MAGIC)
    if not write_private(output, MAGIC + salt + nonce + sealed, exclusive=True):
        raise KeysBackupError(f"{output} appeared meanwhile; a backup is never overwritten")
    return list(contents)


def _open(sealed_file: Path, passphrase: str) -> dict[str, bytes]:
    try:
        blob = sealed_file.read_bytes()
    except OSError as exc:
        raise KeysBackupError(f"{sealed_file} cannot be read: {exc.strerror}") from None
    if not blob.startswith(MAGIC):
        raise KeysBackupError(f"{sealed_file} is not a keys backup")
    at = len(MAGIC)
    salt, nonce = blob[at : at + SALT], blob[at + SALT : at + SALT + NONCE]
    try:
        plain = AESGCM(_key(passphrase, salt)).decrypt(nonce, blob[at + SALT + NONCE :], MAGIC)
    except InvalidTag:
        raise KeysBackupError(
            f"{sealed_file} does not open with this passphrase (or it was altered)"
        ) from None
    return {name: base64.b64decode(text) for name, text in json.loads(plain).items()}


@dataclass(frozen=True)
class Unsealed:
    """What a keys restore did to each file: ``written``, ``same`` or ``merged``."""

    files: dict[str, str]


def unseal(settings: Settings, passphrase: str, sealed_file: Path) -> Unsealed:
    """Restore the keys (and merge the journal) from a keys backup."""
    contents = _open(sealed_file, passphrase)
    targets = _files(settings)
    for name, data in contents.items():
        path = targets.get(name)
        if path is None:
            raise KeysBackupError(f"{sealed_file} holds an unknown file {name!r}")
        if name != JOURNAL and path.exists() and path.read_bytes() != data:
            raise KeysBackupError(
                f"{name} {path} exists and is another key: move it aside to restore this one"
            )
    done: dict[str, str] = {}
    for name, data in contents.items():
        path = targets[name]
        if name == JOURNAL:
            done[name] = _merge(path, data)
        elif path.exists():
            done[name] = "same"
        else:
            write_private(path, data, exclusive=True)
            done[name] = "written"
    return Unsealed(done)


def _merge(path: Path, saved: bytes) -> str:
    """Merge a saved journal into the one in place: every line of either, each once."""
    if not path.exists():
        write_private(path, saved, exclusive=True)
        return "written"
    current = path.read_bytes()
    known = set(current.splitlines())
    missing = [line for line in saved.splitlines() if line.strip() and line not in known]
    if missing:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND)
        try:
            prefix = b"" if not current or current.endswith(b"\n") else b"\n"
            os.write(fd, prefix + b"\n".join(missing) + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
    return "merged"

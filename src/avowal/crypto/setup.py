"""Every key production needs, made and checked in one place: ``avowal keys init`` and
``avowal keys check``.

A server holds three keys (:class:`avowal.crypto.service.Secrets`), each in a file of its own:

- the master keyring, which wraps every person's data key: lost, every person's data is lost
  with it (crypto-shredding cannot tell a lost key from an erasure);
- the blind-index key, which keys the lookups by e-mail address and the other keyed hashes:
  lost, nobody can be found by an address any more, though their data is still readable;
- the receipt-signing key (Ed25519), which signs receipts and audit checkpoints: lost, new
  receipts are signed by a new key and the old ones still verify with its published public key.

Development generates them on first use (:func:`avowal.crypto.service.load`); production never
does, and refuses a development keyring or a key file others can read. ``keys init`` makes the
missing ones for production (never overwriting one), and ``keys check`` says, for each, whether a
production server would accept it, and whether the keyring opens the data keys the database
holds.
"""

from __future__ import annotations

import contextlib
import hashlib
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import func, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.crypto import signing
from avowal.crypto.exceptions import KeyError_
from avowal.crypto.keyring import Keyring
from avowal.crypto.service import index_key
from avowal.lib import files
from avowal.settings import Settings
from avowal.vault.models import Subject

MASTER, INDEX, SIGNING = "master keyring", "blind-index key", "signing key"


@dataclass(frozen=True)
class KeyFile:
    """One key's file, the setting naming it, and what losing it costs."""

    name: str
    setting: str
    path: Path
    loss: str


def key_files(settings: Settings, folder: Path | None = None) -> list[KeyFile]:
    """Return the server's three key files: in ``folder`` when given (``master.json``,
    ``index.key``, ``signing.pem``), else where ``settings`` reads them."""
    paths = (
        (folder / "master.json", folder / "index.key", folder / "signing.pem")
        if folder is not None
        else (settings.master_key_path, settings.index_key_path, settings.signing_key_path)
    )
    return [
        KeyFile(
            MASTER,
            "AVOWAL_MASTER_KEY_FILE",
            paths[0],
            "every person's data is lost with it",
        ),
        KeyFile(
            INDEX,
            "AVOWAL_INDEX_KEY_FILE",
            paths[1],
            "nobody can be looked up by e-mail address any more",
        ),
        KeyFile(
            SIGNING,
            "AVOWAL_SIGNING_KEY_FILE",
            paths[2],
            "receipts are signed by a new key (keep its public key to verify the old ones)",
        ),
    ]


def index_key_id(key: bytes) -> str:
    """Return a short public fingerprint of the blind-index key (never the key)."""
    return "ik-" + hashlib.sha256(b"avowal index key id\0" + key).hexdigest()[:16]


def _fingerprint(key: KeyFile) -> str:
    """Load a key file as a production server would (raising KeyError_ naming the problem);
    return its fingerprint."""
    if key.name == MASTER:
        ring = Keyring.load(key.path)
        if ring.development:
            raise KeyError_(
                f"{key.path} is a development master keyring, which production refuses; move it "
                "away (the data it wraps is development data) or pass another folder"
            )
        extra = f" (+{len(ring.keys) - 1} being rotated out)" if len(ring.keys) > 1 else ""
        return ring.current + extra
    if key.name == INDEX:
        return index_key_id(index_key(key.path, create=False))
    return signing.public_key_id(signing.load_or_create(key.path, create=False).public_key())


@dataclass(frozen=True)
class Made:
    """A key file after ``keys init``: its fingerprint, and whether it was made just now."""

    key: KeyFile
    fingerprint: str
    created: bool


def init(settings: Settings, folder: Path | None = None) -> list[Made]:
    """Make each of the server's keys that is missing, readable by its owner only, in a folder
    only its owner enters; keep (and check) each that exists. Nothing is made unless every
    existing key passes: a bad one raises KeyError_ naming it."""
    keys = key_files(settings, folder)
    if len({k.path.resolve() for k in keys}) != len(keys):
        raise KeyError_("the three key files must be different files")
    kept = {k.name: _fingerprint(k) for k in keys if k.path.exists()}
    for k in keys:
        mode = files.open_mode(k.path)
        if mode is not None:
            raise KeyError_(
                f"{k.name} {k.path} can be read by other users (mode {mode:04o}): "
                f"run `chmod 600 {k.path}`"
            )
    made = []
    for k in keys:
        if k.name in kept:
            made.append(Made(k, kept[k.name], created=False))
            continue
        if k.name == MASTER:
            fingerprint = Keyring.create(k.path, development=False).current
        elif k.name == INDEX:
            fingerprint = index_key_id(index_key(k.path, create=True))
        else:
            fingerprint = signing.public_key_id(
                signing.load_or_create(k.path, create=True).public_key()
            )
        made.append(Made(k, fingerprint, created=True))
    return made


@dataclass(frozen=True)
class Finding:
    """One line of ``keys check``: what was checked, and the problem found (None: fine)."""

    what: str
    problem: str | None = None


def check(settings: Settings, sessions: sessionmaker[Session] | None) -> list[Finding]:
    """Check the server's keys as production loads them: each file exists, is private to its
    owner and holds a production key; the three are different files; and, given the
    database's ``sessions``, the master keyring opens a data key of each master key the people
    kept in it are wrapped by."""
    found: list[Finding] = []
    keys = key_files(settings)
    ring: Keyring | None = None
    for k in keys:
        mode = files.open_mode(k.path)
        if k.name == MASTER:
            # Whether production would take it or not, a keyring that loads is tried on the
            # database's data keys.
            with contextlib.suppress(KeyError_):
                ring = Keyring.load(k.path)
        try:
            fingerprint = _fingerprint(k)
        except KeyError_ as exc:
            found.append(Finding(f"{k.name} {k.path}", str(exc)))
            continue
        if mode is not None:
            found.append(
                Finding(
                    f"{k.name} {k.path}",
                    f"can be read by other users (mode {mode:04o}), which production refuses: "
                    f"run `chmod 600 {k.path}`",
                )
            )
            continue
        found.append(Finding(f"{k.name} {k.path} ({fingerprint})"))
    if len({k.path.resolve() for k in keys}) != len(keys):
        found.append(Finding("key files", "two keys share one file: each needs its own"))
    if sessions is not None and ring is not None:
        found += _opens_data_keys(ring, sessions)
    return found


def _opens_data_keys(ring: Keyring, sessions: sessionmaker[Session]) -> list[Finding]:
    """Unwrap one data key per master key the people kept are wrapped by."""
    found = []
    with sessions() as session:
        wrapped_by = session.execute(
            select(Subject.key_id, func.count(), func.min(Subject.id))
            .where(Subject.erased_at.is_(None), Subject.wrapped_key.is_not(None))
            .group_by(Subject.key_id)
        ).all()
        for kid, count, subject_id in wrapped_by:
            what = f"data keys of {count} people wrapped by {kid}"
            if kid not in ring.keys:
                found.append(
                    Finding(what, f"{kid} is not in the keyring: their data cannot be read")
                )
                continue
            row = session.get(Subject, subject_id)
            assert row is not None and row.wrapped_key is not None
            try:
                ring.unwrap(kid, row.wrapped_key, subject_id)
            except KeyError_:
                found.append(
                    Finding(what, f"{kid} does not open them: their wrapped key was altered")
                )
                continue
            found.append(Finding(what))
    if not wrapped_by:
        found.append(Finding("data keys: the database keeps nobody's yet"))
    return found

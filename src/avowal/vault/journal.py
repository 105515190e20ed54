"""The erasure journal: every erasure noted outside the database, so that a restored backup
never brings an erased person back.

Erasure destroys a person's wrapped data key (crypto-shredding). A database backup made before
the erasure still holds that key, and restoring it would make the person readable again. So each
erasure is also appended to a journal file kept beside the keys, not in the database (a restore
replaces the database, never the journal): ``avowal restore`` re-applies every erasure the
journal holds to the restored database before anything can read it
(:func:`avowal.backup.service.restore`).

The journal holds a line of JSON per erasure, ``{"subject_id": ..., "erased_at": ...}``: the
random id the tombstone keeps anyway, and the time; nothing about the person. It is written,
flushed to disk, before the erasure's transaction commits: a crash between the two leaves an
entry for an erasure that did not commit, which a restore then carries out, as the person asked;
never the other way round.

The journal's file is found through the engine (:func:`attach`, done by
:func:`avowal.db.engine.make_engine` for every engine made from the settings): every process
erasing people (servers, the worker, the command line) writes to the same file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from avowal.lib import files
from avowal.settings import Settings

NAME = "erasures.journal"
_PATHS: weakref.WeakKeyDictionary[Engine, Path] = weakref.WeakKeyDictionary()


def path_of(settings: Settings) -> Path:
    """Return the journal's file: beside the master keyring, backed up with the keys."""
    return settings.master_key_path.parent / NAME


def attach(engine: Engine, settings: Settings) -> None:
    """Make the erasures done through ``engine`` go to the settings' journal."""
    _PATHS[engine] = path_of(settings)


@contextmanager
def unattached(engine: Engine) -> Iterator[None]:
    """Note no erasure done through ``engine`` meanwhile (those the journal holds already)."""
    path = _PATHS.pop(engine, None)
    try:
        yield
    finally:
        if path is not None:
            _PATHS[engine] = path


@dataclass(frozen=True)
class Entry:
    """One erasure: whom, and when."""

    subject_id: str
    erased_at: dt.datetime


def record(session: Session, subject_id: str, erased_at: dt.datetime) -> None:
    """Append an erasure to the journal of the session's engine, on disk before returning (the
    caller commits after); nothing when the engine has no journal (made without settings)."""
    bind = session.get_bind()
    path = _PATHS.get(bind) if isinstance(bind, Engine) else None
    if path is None:
        return
    files.private_dir(path.parent)
    line = json.dumps({"subject_id": subject_id, "erased_at": erased_at.isoformat()}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


class JournalDamaged(ValueError):
    """A line of the journal is not an erasure: named by its number."""


def entries(path: Path) -> Iterator[Entry]:
    """Yield the journal's erasures, oldest first (none when it does not exist); a damaged line
    raises JournalDamaged, except a last one cut short by a crash while it was written."""
    try:
        lines = path.read_text(encoding="utf-8").split("\n")
    except FileNotFoundError:
        return
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            doc = json.loads(line)
            entry = Entry(str(doc["subject_id"]), dt.datetime.fromisoformat(doc["erased_at"]))
        except (ValueError, KeyError, TypeError) as exc:
            if number == len(lines):  # the last line, with no newline: a write cut short
                return
            raise JournalDamaged(f"{path}:{number}: not an erasure ({exc})") from None
        yield entry

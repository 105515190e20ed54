"""Database backups, and restores that never bring an erased person back.

A backup is a folder: the database (SQLite's online backup of the file, or ``pg_dump``'s custom
format) and ``manifest.json`` (when it was made, the database's kind, schema revision and the
file's SHA-256). The keys are not in it: they are backed up apart (``avowal keys init`` says
so), with the erasure journal beside them (:mod:`avowal.vault.journal`).

A restore checks the manifest, puts the database back (into an empty database, or over the
configured one when asked to replace it), upgrades its schema to this version's, then re-applies
every erasure the journal holds: a person erased after the backup was made is erased again,
before any server reads the restored database. Erasures the backup already holds are found
erased and left alone. On PostgreSQL the tables are then rewritten (VACUUM FULL), so that the
restored row versions of the people erased again are not left in their files.
"""

from __future__ import annotations

import datetime as dt
import glob
import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import Engine, MetaData, make_url, select, text
from sqlalchemy.orm import Session

from avowal import __version__
from avowal.db import engine as db
from avowal.db import migrate
from avowal.lib import clock, files
from avowal.settings import Settings
from avowal.vault import journal
from avowal.vault.erasure import shred
from avowal.vault.models import Subject

MANIFEST = "manifest.json"
FORMAT = 1
FILES = {"sqlite": "database.sqlite3", "postgresql": "database.pgdump"}
ACTOR = "avowal restore"


class BackupError(Exception):
    """A backup or restore that cannot be done, with the reason for a person."""


@dataclass(frozen=True)
class Manifest:
    """What a backup holds."""

    made_at: dt.datetime
    database: str
    file: str
    sha256: str
    schema: str | None
    avowal: str

    def document(self) -> dict[str, object]:
        return {
            "format": FORMAT,
            "made_at": self.made_at.isoformat(),
            "database": self.database,
            "file": self.file,
            "sha256": self.sha256,
            "schema": self.schema,
            "avowal": self.avowal,
        }


def kind(engine: Engine) -> str:
    """Return the database's kind: ``sqlite`` or ``postgresql``."""
    name = engine.dialect.name
    if name not in FILES:
        raise BackupError(f"no backups of a {name} database")
    return name


def _sqlite_copy(source_file: Path, target: Path) -> None:
    """Copy an SQLite database into ``target`` with SQLite's backup API, private to its owner."""
    source = sqlite3.connect(source_file)
    copy = sqlite3.connect(target)
    try:
        source.backup(copy)
    finally:
        copy.close()
        source.close()
    files.make_private(target)


def _digest(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _program(name: str) -> str:
    """Return the path of a PostgreSQL program: on PATH, else the newest installed."""
    found = shutil.which(name)
    if found:
        return found
    installed = sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), key=_major)
    if not installed:
        raise BackupError(f"{name} not found: install PostgreSQL's client programs")
    return installed[-1]


def _major(path: str) -> int:
    part = Path(path).parent.parent.name
    return int(part) if part.isdigit() else 0


def _libpq(engine: Engine) -> dict[str, str]:
    """The environment that points PostgreSQL's programs at the engine's database (the
    password in the environment, never on a command line others can see)."""
    url = make_url(engine.url.render_as_string(hide_password=False))
    env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
    # A socket folder given as ?host=/run/postgresql is libpq's host too.
    host = url.host or url.query.get("host")
    for key, value in (
        ("PGHOST", host if isinstance(host, str) else None),
        ("PGPORT", url.port),
        ("PGUSER", url.username),
        ("PGPASSWORD", url.password),
        ("PGDATABASE", url.database),
    ):
        if value is not None:
            env[key] = str(value)
    return env


def _run(args: list[str], env: dict[str, str]) -> None:
    done = subprocess.run(args, env=env, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        # pg_dump's messages name objects, never rows' values.
        raise BackupError(f"{Path(args[0]).name} failed: {done.stderr.strip()[-500:]}")


def backup(engine: Engine, folder: Path) -> Manifest:
    """Write a backup of the engine's database into ``folder`` (new, or empty)."""
    database = kind(engine)
    if folder.exists() and any(folder.iterdir()):
        raise BackupError(f"{folder} is not empty: a backup goes into a new folder")
    files.private_dir(folder)
    made_at = clock.now()
    target = folder / FILES[database]
    if database == "sqlite":
        source_file = engine.url.database
        if not source_file or source_file == ":memory:":
            raise BackupError("the database is in memory: nothing to back up")
        _sqlite_copy(Path(source_file), target)  # consistent while servers keep writing
    else:
        dump = [_program("pg_dump"), "--format=custom", "--no-owner", "--no-privileges"]
        _run([*dump, f"--file={target}"], _libpq(engine))
        files.make_private(target)
    manifest = Manifest(
        made_at, database, target.name, _digest(target), migrate.current(engine), __version__
    )
    path = folder / MANIFEST
    path.write_text(json.dumps(manifest.document(), indent=2) + "\n", encoding="utf-8")
    files.make_private(path)
    return manifest


def read_manifest(folder: Path) -> Manifest:
    """Read and check a backup's manifest and file (BackupError naming what is wrong)."""
    path = folder / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
        if doc.get("format") != FORMAT:
            raise BackupError(f"{path}: format {doc.get('format')!r}, this avowal reads {FORMAT}")
        manifest = Manifest(
            dt.datetime.fromisoformat(doc["made_at"]),
            str(doc["database"]),
            str(doc["file"]),
            str(doc["sha256"]),
            doc.get("schema"),
            str(doc.get("avowal", "")),
        )
    except FileNotFoundError:
        raise BackupError(f"{folder} is not a backup: no {MANIFEST}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise BackupError(f"{path} is damaged: {exc}") from None
    if manifest.database not in FILES or manifest.file != FILES[manifest.database]:
        raise BackupError(f"{path}: unknown database {manifest.database!r} or file")
    data = folder / manifest.file
    if not data.is_file():
        raise BackupError(f"{data} is missing")
    if _digest(data) != manifest.sha256:
        raise BackupError(f"{data} does not match its manifest's SHA-256: the backup is damaged")
    return manifest


@dataclass(frozen=True)
class Restored:
    """What a restore did."""

    manifest: Manifest
    upgraded_from: str | None
    erased_again: int
    journaled: int


def restore(engine: Engine, settings: Settings, folder: Path, *, replace: bool) -> Restored:
    """Put a backup's database in place of the engine's, upgrade it, and re-apply the erasure
    journal's erasures. The servers and the worker must be stopped."""
    manifest = read_manifest(folder)
    database = kind(engine)
    if manifest.database != database:
        raise BackupError(
            f"the backup is of a {manifest.database} database; this one is {database}"
        )
    if migrate.current(engine) is not None and not replace:
        raise BackupError(
            "the database is not empty: pass --replace to restore over it (stop the servers and "
            "the worker first)"
        )
    data = folder / manifest.file
    engine.dispose()
    if database == "sqlite":
        target = engine.url.database
        assert target
        _sqlite_copy(data, Path(target))
    else:
        # Every table dropped first (the schema has no types or sequences of its own beyond
        # those its tables own): tables a newer schema added must not outlive the restore.
        tables = MetaData()
        tables.reflect(engine)
        tables.drop_all(engine)
        engine.dispose()
        restore_args = [_program("pg_restore"), "--no-owner", "--no-privileges"]
        into = f"--dbname={engine.url.database}"  # the rest of the connection: _libpq
        _run([*restore_args, "--single-transaction", into, str(data)], _libpq(engine))
    upgraded_from = migrate.current(engine)
    migrate.upgrade(engine)
    erased_again, journaled = reapply(engine, settings)
    if erased_again and database == "postgresql":
        _compact(engine)
    return Restored(manifest, upgraded_from, erased_again, journaled)


def _compact(engine: Engine) -> None:
    """Rewrite every table of a PostgreSQL database into new files (VACUUM FULL).

    A re-applied erasure leaves the restored row versions, wrapped keys and lookup digests
    included, behind as dead tuples in the tables' files until a vacuum; VACUUM FULL writes each
    table anew without them and removes the old files, before any server reads the database.
    (SQLite's erasures fold the log into the file and leave no copy, see ``purge_wal``.)
    """
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM FULL"))


def reapply(engine: Engine, settings: Settings) -> tuple[int, int]:
    """Erase again everyone the erasure journal names who is living in the database; return
    how many were, and how many erasures the journal holds."""
    entries = list(journal.entries(journal.path_of(settings)))
    erased = 0
    sessions = db.make_sessionmaker(engine)
    # Re-applied erasures are in the journal already: not noted twice.
    with journal.unattached(engine):
        for entry in entries:
            with db.transaction(sessions) as session:
                if _living(session, entry.subject_id):
                    shred(
                        session,
                        entry.subject_id,
                        actor=ACTOR,
                        role="operator",
                        reason=f"erased at {entry.erased_at.isoformat()}, after the backup",
                    )
                    erased += 1
    return erased, len(entries)


def _living(session: Session, subject_id: str) -> bool:
    found = session.execute(select(Subject.erased_at).where(Subject.id == subject_id)).first()
    return found is not None and found[0] is None

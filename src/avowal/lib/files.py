"""Files at rest: folders 0700, the database, its journals and the keys 0600, whatever the umask.

Modes are set explicitly (``chmod`` after creating), never left to the process umask: an
operator's ``umask 002`` must not make a person's data or a key readable by a whole group.
"""

from __future__ import annotations

import contextlib
import os
import stat
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

PRIVATE_DIR = 0o700
PRIVATE_FILE = 0o600
# What SQLite writes beside the database: the write-ahead log, its index, the rollback journal.
SQLITE_SIDE_FILES = ("-wal", "-shm", "-journal")


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parent as folders only their owner can enter (0700).

    A folder that already exists is left as the operator made it: it may be shared (``/srv``)
    or not ours to change.
    """
    missing: list[Path] = []
    current = path
    while not current.exists():
        missing.append(current)
        current = current.parent
    for folder in reversed(missing):
        with contextlib.suppress(FileExistsError):
            folder.mkdir(mode=PRIVATE_DIR)
            os.chmod(folder, PRIVATE_DIR)
    return path


def open_mode(path: Path) -> int | None:
    """Return the permission bits of ``path`` if its group or others may use it, else None."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except FileNotFoundError:
        return None
    return mode if mode & 0o077 else None


def make_private(path: Path) -> None:
    """Set ``path`` to 0600 if it exists (a file we own: the database, a journal, a key)."""
    with contextlib.suppress(FileNotFoundError):
        if stat.S_IMODE(path.stat().st_mode) != PRIVATE_FILE:
            os.chmod(path, PRIVATE_FILE)


def sqlite_file(engine: Engine) -> Path | None:
    """Return the file of an SQLite engine, or None (another database, or in memory)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def protect_database(engine: Engine, data_dir: Path) -> None:
    """Keep the data folder, the SQLite database and its journal files private.

    The data folder is created 0700. The database file is created 0600 before SQLite first opens
    it (SQLite gives its -wal, -shm and -journal files the mode of the database file); a database
    or journal left more open by an earlier version is tightened now and on every connection.
    """
    path = sqlite_file(engine)
    if path is None:
        return
    private_dir(data_dir)
    private_dir(path.parent)
    with contextlib.suppress(FileExistsError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, PRIVATE_FILE))
    _tighten(path)

    def on_connect(_dbapi_conn: Any, _record: Any) -> None:
        _tighten(path)

    event.listen(engine, "connect", on_connect)


def _tighten(path: Path) -> None:
    for file in (path, *(path.with_name(path.name + suffix) for suffix in SQLITE_SIDE_FILES)):
        make_private(file)

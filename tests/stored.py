"""What the database holds, as bytes: to check that erased or destroyed data left no trace."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import MetaData, select

from avowal.settings import Settings


def every_row(app: FastAPI) -> bytes:
    """Return every column of every row of every table of the database, as bytes."""
    engine = app.state.sessionmaker.kw["bind"]
    tables = MetaData()
    tables.reflect(engine)
    out: list[bytes] = []
    with engine.connect() as conn:
        for table in tables.sorted_tables:
            for row in conn.execute(select(table)):
                for value in row:
                    if isinstance(value, bytes | bytearray | memoryview):
                        out.append(bytes(value))
                    elif value is not None:
                        out.append(str(value).encode())
    return b"\x00".join(out)


def database_files(settings: Settings) -> bytes:
    """Return the embedded database's files themselves (free pages and the WAL included); empty
    for a server database."""
    url = settings.effective_database_url
    if not url.startswith("sqlite"):
        return b""
    db_file = Path(url.removeprefix("sqlite:///"))
    return b"".join(p.read_bytes() for p in db_file.parent.glob(db_file.name + "*") if p.is_file())


def everything(app: FastAPI, settings: Settings) -> bytes:
    """Return every row and, on SQLite, the database files."""
    return every_row(app) + database_files(settings)

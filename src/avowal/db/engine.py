"""Engine and session factory; sessions are opened and committed at the edge only."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.orm import Session, sessionmaker

from avowal.lib import files
from avowal.settings import Settings
from avowal.vault import journal


def make_engine(settings: Settings) -> Engine:
    """Create the engine for the configured database, creating the data folder for SQLite."""
    url = settings.effective_database_url
    # Errors and the SQL echo never show parameters: they are people's values and refs.
    kwargs: dict[str, Any] = {"echo": settings.sql_echo, "hide_parameters": True}
    if url.startswith("sqlite"):
        kwargs["connect_args"] = {"check_same_thread": False}
    else:
        kwargs["pool_pre_ping"] = True
    engine = create_engine(url, **kwargs)
    files.protect_database(engine, settings.data_dir)
    journal.attach(engine, settings)
    if url.startswith("sqlite"):
        event.listen(engine, "connect", _sqlite_pragmas)
        event.listen(engine, "begin", _sqlite_begin)
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    # WAL lets readers and one writer work at once; foreign keys are off by default in SQLite.
    cur = dbapi_conn.cursor()
    cur.execute("PRAGMA journal_mode=WAL")
    cur.execute("PRAGMA foreign_keys=ON")
    cur.execute("PRAGMA busy_timeout=5000")
    # Zero deleted content (replaced values, destroyed keys) instead of leaving it in free pages.
    cur.execute("PRAGMA secure_delete=ON")
    cur.close()
    # The driver's own transaction handling begins a transaction only before an INSERT, UPDATE
    # or DELETE and not before a SAVEPOINT, whose RELEASE then commits: a nested transaction
    # would commit on its own. Turn it off and begin every transaction ourselves (SQLAlchemy's
    # documented recipe for pysqlite), so SAVEPOINTs and transactional DDL work.
    dbapi_conn.isolation_level = None


def _sqlite_begin(conn: Connection) -> None:
    # IMMEDIATE takes the write lock at the start, waiting up to busy_timeout for it: the
    # transaction's reads and writes see one state (a row read and re-checked cannot change
    # before it is written, as SELECT ... FOR UPDATE gives on PostgreSQL), and a deferred
    # transaction that read first would fail at once when another wrote meanwhile.
    # A read-only session (dashboards, exports, `audit verify`) begins deferred instead: in WAL
    # mode it reads one snapshot and never holds up a writer, however long it reads.
    read_only = conn.get_execution_options().get(READ_ONLY, False)
    conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


# Execution option of the read-only engine: set by make_read_sessionmaker, read at BEGIN.
READ_ONLY = "avowal_read_only"


def make_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory that keeps loaded objects usable after commit."""
    return sessionmaker(engine, expire_on_commit=False)


def make_read_sessionmaker(engine: Engine) -> sessionmaker[Session]:
    """Return a session factory for work that only reads.

    On SQLite its transactions never take the write lock, so a long dashboard query or chain
    walk never makes a collection or an analytics commit wait; on PostgreSQL they are READ ONLY
    transactions, so a write slipped into one fails instead of being committed.
    """
    options: dict[str, Any] = {READ_ONLY: True}
    if engine.dialect.name == "postgresql":
        options["postgresql_readonly"] = True
    return sessionmaker(engine.execution_options(**options), expire_on_commit=False)


@contextmanager
def transaction(factory: sessionmaker[Session]) -> Iterator[Session]:
    """Open a session and commit it on success, roll back on error (CLI and workers)."""
    with factory() as session, session.begin():
        yield session


def core(session: Session) -> Connection:
    """Return the session's connection for Core statements, after flushing what the session holds.

    A Core statement skips the ORM: it neither autoflushes nor pays for the ORM's execution path.
    Flushing first keeps the order an ORM statement would have (a new person's row before their
    receipt, changes made in this session before a read of them); nothing is sent when the
    session holds no changes.
    """
    if session.autoflush:
        session.flush()
    return session.connection()


def after_commit(session: Session, action: Callable[[], None]) -> None:
    """Run ``action`` once the session's transaction has committed (never if it rolls back)."""
    session.info.setdefault("after_commit", []).append(action)


@event.listens_for(Session, "after_commit")
def _run_after_commit(session: Session) -> None:
    for action in session.info.pop("after_commit", []):
        action()


@event.listens_for(Session, "after_rollback")
def _drop_after_commit(session: Session) -> None:
    session.info.pop("after_commit", None)


def purge_wal(engine: Engine) -> None:
    """Fold SQLite's write-ahead log into the database and truncate it.

    The log keeps old page images (a destroyed key among them) until it is checkpointed; with
    ``secure_delete`` on, the checkpoint leaves no copy behind. PostgreSQL needs nothing here:
    its dead row versions are vacuumed, and only ever held wrapped keys.
    """
    if engine.dialect.name != "sqlite":
        return
    # On the driver's connection, outside any transaction: a checkpoint cannot run inside one.
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        cursor.close()
    finally:
        raw.close()

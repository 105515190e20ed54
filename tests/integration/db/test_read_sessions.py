"""Read-only sessions: a long read never holds up a writer, and cannot write."""

from __future__ import annotations

import threading

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.exc import DBAPIError

from avowal.audit.models import AuditEntry
from avowal.audit.service import Event, append
from avowal.callers import service as callers
from avowal.db.engine import make_read_sessionmaker, make_sessionmaker


def test_a_writer_commits_while_a_long_read_is_open(engine: Engine) -> None:
    reads = make_read_sessionmaker(engine)
    writes = make_sessionmaker(engine)
    done = threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with writes() as session, session.begin():
                append(session, Event(actor="test", role="test", action="write"))
            done.set()
        except BaseException as exc:  # reported by the assertion below
            errors.append(exc)

    with reads() as reading:
        # The read transaction is open and has read (a snapshot is held) ...
        before = reading.scalar(select(func.count()).select_from(AuditEntry))
        other = threading.Thread(target=writer)
        other.start()
        # ... and the writer finishes while it is still open (SQLite: no write lock taken).
        assert done.wait(timeout=3), errors or "the writer waited for the reader"
        # The reader keeps its snapshot on both databases.
        if engine.dialect.name == "sqlite":
            assert reading.scalar(select(func.count()).select_from(AuditEntry)) == before
    other.join(timeout=10)
    assert errors == []
    with writes() as session:
        assert session.scalar(select(func.count()).select_from(AuditEntry)) == (before or 0) + 1


@pytest.mark.parametrize(
    "db_url", [pytest.param("postgresql", marks=pytest.mark.postgres)], indirect=True
)
def test_a_write_slipped_into_a_read_session_fails_on_postgresql(engine: Engine) -> None:
    with make_read_sessionmaker(engine)() as session, pytest.raises(DBAPIError) as raised:
        session.execute(text("UPDATE audit_head SET seq = seq WHERE id = 1"))
    assert "read-only" in str(raised.value.orig)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_analytics_figures_are_read_while_another_process_holds_the_write_lock(
    app: FastAPI, client: TestClient, engine: Engine
) -> None:
    with app.state.sessionmaker() as session, session.begin():
        token = callers.create(
            session, app.state.policies.current(), "figures", "reporting_service"
        )
    # Hold SQLite's write lock in another connection, as a long commit of another process would.
    holder = engine.raw_connection()
    try:
        holder.cursor().execute("BEGIN IMMEDIATE")
        answer = client.get(
            "/v1/analytics/sites/www.contactmonkey.com/summary",
            headers={"Authorization": f"Bearer {token}"},
        )
        assert answer.status_code == 200, answer.text
    finally:
        holder.rollback()
        holder.close()

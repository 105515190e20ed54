"""The ingest's group commits written by a process of their own, on SQLite and PostgreSQL.

The server hands each batch to its writer process and answers 202 only once the writer has
committed it; a batch the database refuses, or a writer that dies, fails only that batch; the
next batch starts a new writer; the writer ignores the signals a terminal or service manager
sends to the whole process group, stops at the server's shutdown once everything submitted is
committed, and ends on its own when its server is gone.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
import time
from collections.abc import Iterator

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select, text

from avowal.analytics import writer
from avowal.analytics.ingest import PendingEvent
from avowal.analytics.models import Event, ScrubCounter
from avowal.app import create_app
from avowal.settings import Settings

SITE = "www.contactmonkey.com"  # declared in the example policy
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def process_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"analytics_writer": "process"})


@pytest.fixture
def started(process_settings: Settings, engine: Engine) -> Iterator[writer.WriterProcess]:
    """Yield a started writer on the migrated test database; stop it afterwards."""
    process = writer.WriterProcess(process_settings)
    process.start()
    try:
        yield process
    finally:
        process.stop()


def pending(site_id: int, number: int, **changes: object) -> PendingEvent:
    event = PendingEvent(
        site_id=site_id,
        site=SITE,
        ts=NOW,
        name="pageview",
        path=f"/page-{number}",
        referrer_domain=None,
        source=None,
        utm={},
        props=None,
        ip="192.0.2.1",
        user_agent=FIREFOX,
    )
    for name, value in changes.items():
        setattr(event, name, value)
    return event


def site_id(engine: Engine) -> int:
    with engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO analytics_sites (domain, source, added_at) "
                "VALUES ('writer.example.com', 'cli', :at)"
            ),
            {"at": NOW},
        )
        found = conn.scalar(
            text("SELECT id FROM analytics_sites WHERE domain = 'writer.example.com'")
        )
    assert isinstance(found, int)
    return found


def stored(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return sorted(conn.scalars(select(Event.path)))


def test_auto_writes_through_a_process_except_in_the_test_mode(settings: Settings) -> None:
    assert writer.uses_process(settings.model_copy(update={"env": "development"}))
    assert writer.uses_process(settings.model_copy(update={"env": "production"}))
    assert not writer.uses_process(settings)  # the test mode
    assert writer.uses_process(settings.model_copy(update={"analytics_writer": "process"}))
    development = settings.model_copy(update={"env": "development", "analytics_writer": "thread"})
    assert not writer.uses_process(development)
    with pytest.raises(ValidationError, match="analytics_writer"):
        Settings(analytics_writer="fork")


def test_events_are_committed_by_the_writer_before_the_202(
    process_settings: Settings, engine: Engine
) -> None:
    app = create_app(process_settings, engine=engine)
    with TestClient(app) as client:
        process = app.state.analytics.writer
        assert process is not None and process.alive and process.process.pid != os.getpid()
        for path in ("/pricing", "/u/ada@example.com"):
            event = {"n": "pageview", "u": f"https://{SITE}{path}", "d": SITE}
            answer = client.post("/api/event", json=event, headers={"User-Agent": FIREFOX})
            assert answer.status_code == 202, answer.text
            assert answer.json() == {"stored": 1}
        # Committed (visible to another connection) by the time the 202 arrived.
        assert stored(engine) == ["/pricing", "/u/:email"]
        with engine.connect() as conn:
            assert conn.scalar(select(func.sum(ScrubCounter.count))) == 1
    # The shutdown stopped the writer.
    assert process.process is None


def test_a_batch_the_database_refuses_fails_alone(
    started: writer.WriterProcess, engine: Engine
) -> None:
    site = site_id(engine)
    started.write([pending(site, 1)], NOW)
    # Props that cannot be written as JSON: the writer's transaction fails, it answers the name.
    with pytest.raises(writer.WriterFailed, match="TypeError"):
        started.write([pending(site, 2), pending(site, 3, props={"a": {1, 2}})], NOW)
    started.write([pending(site, 4)], NOW)
    assert stored(engine) == ["/page-1", "/page-4"]
    assert started.started == 1  # the same writer all along


def test_a_killed_writer_fails_its_batch_and_the_next_starts_another(
    started: writer.WriterProcess, engine: Engine
) -> None:
    site = site_id(engine)
    first = started.process
    assert first is not None
    # Hold a lock the writer needs, so that the next batch waits in it; kill it meanwhile.
    outcome: list[BaseException | None] = []
    with engine.connect() as conn:
        lock = conn.begin()  # BEGIN IMMEDIATE on SQLite: the write lock, held
        if engine.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE analytics_events IN EXCLUSIVE MODE")

        def write() -> None:
            try:
                started.write([pending(site, 1)], NOW)
                outcome.append(None)
            except writer.WriterFailed as exc:
                outcome.append(exc)

        thread = threading.Thread(target=write)
        thread.start()
        time.sleep(0.5)
        os.kill(first.pid, signal.SIGKILL)
        thread.join(10)
        lock.rollback()
    assert len(outcome) == 1 and isinstance(outcome[0], writer.WriterFailed)
    assert "ended" in str(outcome[0])
    assert stored(engine) == []  # never committed, never acknowledged
    started.write([pending(site, 2)], NOW)
    assert started.started == 2 and started.process is not first
    assert stored(engine) == ["/page-2"]


def test_the_writer_ignores_a_process_group_stop_and_ends_with_its_server(
    started: writer.WriterProcess, engine: Engine
) -> None:
    site = site_id(engine)
    child = started.process
    assert child is not None
    for signum in (signal.SIGINT, signal.SIGTERM):
        os.kill(child.pid, signum)
    time.sleep(0.3)
    assert child.poll() is None  # still running
    started.write([pending(site, 1)], NOW)  # still writing
    assert stored(engine) == ["/page-1"]
    # The server gone (its end of the pipe closed, as a SIGKILL would): the writer ends.
    assert started.connection is not None
    started.connection.close()
    assert child.wait(10) == 0
    started.connection = None
    started.process = None

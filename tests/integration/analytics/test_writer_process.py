"""The ingest's group commits written by a process of their own, on SQLite and PostgreSQL.

The server hands each batch to its writer process and answers 202 only once the writer has
committed it; a batch the database refuses, or a writer that dies, fails only that batch; the
next batch starts a new writer; the writer ignores the signals a terminal or service manager
sends to the whole process group, stops at the server's shutdown once everything submitted is
committed, and ends on its own when its server is gone.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import os
import signal
import subprocess
from collections.abc import Awaitable, Callable

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select, text

from avowal.analytics import writer
from avowal.analytics.ingest import PendingEvent
from avowal.analytics.models import Event, ScrubCounter
from avowal.app import create_app
from avowal.db.engine import make_sessionmaker
from avowal.settings import Settings

SITE = "www.contactmonkey.com"  # declared in the example policy
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NOW = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)


@pytest.fixture
def process_settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"analytics_writer": "process"})


def run_with_writer(
    settings: Settings, scenario: Callable[[writer.WriterProcess], Awaitable[None]]
) -> None:
    """Run ``scenario`` in an event loop with a started writer; stop it afterwards."""

    async def main() -> None:
        process = writer.WriterProcess(settings)
        await process.start()
        try:
            await scenario(process)
        finally:
            await process.stop()

    asyncio.run(main())


def child_of(process: writer.WriterProcess) -> subprocess.Popen[bytes]:
    """Return the running writer's process."""
    assert process.process is not None and process.alive
    return process.process


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
    # Another process would open an in-memory database of its own: never a process there.
    for url in ("sqlite://", "sqlite:///:memory:"):
        memory = settings.model_copy(update={"analytics_writer": "process", "database_url": url})
        assert not writer.uses_process(memory)


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
    process_settings: Settings, engine: Engine
) -> None:
    site = site_id(engine)

    async def scenario(process: writer.WriterProcess) -> None:
        await process.write([pending(site, 1)], NOW)
        # Props that cannot be written as JSON: the writer's transaction fails, it says why.
        with pytest.raises(writer.WriterFailed, match="TypeError"):
            await process.write([pending(site, 2), pending(site, 3, props={"a": {1, 2}})], NOW)
        await process.write([pending(site, 4)], NOW)
        assert process.started == 1  # the same writer all along

    run_with_writer(process_settings, scenario)
    assert stored(engine) == ["/page-1", "/page-4"]


def test_batches_sent_together_are_answered_each_in_order(
    process_settings: Settings, engine: Engine
) -> None:
    site = site_id(engine)

    async def scenario(process: writer.WriterProcess) -> None:
        batches = [[pending(site, 10 * b + i) for i in range(3)] for b in range(4)]
        batches[2][1].props = {"a": {1, 2}}  # this batch's transaction fails
        outcomes = await asyncio.gather(
            *(process.write(batch, NOW) for batch in batches), return_exceptions=True
        )
        assert [type(o).__name__ for o in outcomes] == [
            "NoneType",
            "NoneType",
            "WriterFailed",
            "NoneType",
        ]

    run_with_writer(process_settings, scenario)
    assert stored(engine) == sorted(f"/page-{n}" for n in (0, 1, 2, 10, 11, 12, 30, 31, 32))


def test_a_killed_writer_fails_its_batch_and_the_next_starts_another(
    process_settings: Settings, engine: Engine
) -> None:
    site = site_id(engine)

    async def scenario(process: writer.WriterProcess) -> None:
        first = child_of(process)
        # Hold a lock the writer needs, so that the next batch waits in it; kill it meanwhile.
        with engine.connect() as conn:
            lock = conn.begin()  # BEGIN IMMEDIATE on SQLite: the write lock, held
            if engine.dialect.name == "postgresql":
                conn.exec_driver_sql("LOCK TABLE analytics_events IN EXCLUSIVE MODE")
            batch = asyncio.create_task(process.write([pending(site, 1)], NOW))
            await asyncio.sleep(0.5)
            assert not batch.done()
            os.kill(first.pid, signal.SIGKILL)
            with pytest.raises(writer.WriterFailed, match="ended"):
                await asyncio.wait_for(batch, 10)
            lock.rollback()
        assert stored(engine) == []  # never committed, never acknowledged
        await process.write([pending(site, 2)], NOW)
        assert process.started == 2 and process.process is not first

    run_with_writer(process_settings, scenario)
    assert stored(engine) == ["/page-2"]


def test_the_writer_ignores_a_process_group_stop_and_ends_with_its_server(
    process_settings: Settings, engine: Engine
) -> None:
    site = site_id(engine)

    async def scenario(process: writer.WriterProcess) -> None:
        child = child_of(process)
        for signum in (signal.SIGINT, signal.SIGTERM):
            os.kill(child.pid, signum)
        await asyncio.sleep(0.3)
        assert child.poll() is None  # still running
        await process.write([pending(site, 1)], NOW)  # still writing
        assert stored(engine) == ["/page-1"]
        # The server gone (its end of the socket closed, as a SIGKILL would): the writer ends.
        assert process._link is not None
        process._link.writer.close()
        assert await asyncio.to_thread(child.wait, 10) == 0

    run_with_writer(process_settings, scenario)


def test_a_writer_that_cannot_start_is_reported(process_settings: Settings) -> None:
    broken = process_settings.model_copy(
        update={"database_url": "postgresql+psycopg://nobody@127.0.0.1:1/none"}
    )

    async def main() -> None:
        with pytest.raises(writer.WriterFailed, match="did not start"):
            await writer.WriterProcess(broken).start()

    asyncio.run(main())


def test_batches_joined_in_one_transaction_fall_back_to_one_each(engine: Engine) -> None:
    """The writer commits the batches that arrived together at once; if that fails, each alone."""
    site = site_id(engine)
    sessions = make_sessionmaker(engine)

    def batch(*numbers: int, bad: bool = False) -> tuple[list[tuple[object, ...]], dt.datetime]:
        events = [pending(site, n, props={"a": {1, 2}} if bad else None) for n in numbers]
        return [writer._FIELDS_OF(e) for e in events], NOW

    assert writer._commit(sessions, [batch(1, 2), batch(3)], None) == [None, None]
    answers = writer._commit(sessions, [batch(4), batch(5, 6, bad=True), batch(7)], None)
    assert answers == [None, "TypeError", None]
    assert stored(engine) == [f"/page-{n}" for n in (1, 2, 3, 4, 7)]

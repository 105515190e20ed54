"""GET /readyz: the database takes writes, the keys work, and where `avowal worker` runs apart,
each of its jobs beat recently; the worker's runs and heartbeat ages in /metrics."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import datetime as dt
import os
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr
from sqlalchemy import Engine

from avowal.app import create_app
from avowal.db import migrate
from avowal.db.engine import make_engine, transaction
from avowal.lib import clock
from avowal.ops import heartbeat, jobs
from avowal.settings import Settings
from avowal.web import ready

TOKEN = "scrape-readiness-example-token"


@pytest.fixture
def apart(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make the servers expect `avowal worker` apart, as on PostgreSQL outside the test mode."""
    monkeypatch.setattr(ready, "expects_worker", lambda settings, dialect: True)


def _beat(app: FastAPI, job: str, at: dt.datetime, **outcome: bool) -> None:
    with transaction(app.state.sessionmaker) as session:
        heartbeat.beat(session, job, at, **outcome)


def test_the_worker_is_expected_apart_on_postgresql_only(settings: Settings) -> None:
    served = settings.model_copy(update={"env": "development"})
    assert ready.expects_worker(served, "postgresql")
    # The embedded database's server does the worker's work itself (`make run`).
    assert not ready.expects_worker(served, "sqlite")
    production = settings.model_copy(update={"env": "production"})
    assert ready.expects_worker(production, "postgresql")
    assert not ready.expects_worker(production, "sqlite")
    # Test applications run no worker at all.
    assert not ready.expects_worker(settings, "postgresql")


def test_an_embedded_server_is_ready_without_any_heartbeat(
    settings: Settings, tmp_path: Path
) -> None:
    demo = settings.model_copy(
        update={"env": "development", "database_url": f"sqlite:///{tmp_path / 'demo.sqlite3'}"}
    )
    engine = make_engine(demo)
    try:
        migrate.upgrade(engine)
        # No lifespan: the in-process worker never starts, so no heartbeat is ever written.
        answer = TestClient(create_app(demo, engine=engine)).get("/readyz")
    finally:
        engine.dispose()
    assert answer.status_code == 200, answer.text


@pytest.mark.usefixtures("apart")
def test_readyz_waits_for_every_job_of_the_worker(app: FastAPI, client: TestClient) -> None:
    settings: Settings = app.state.settings
    never = client.get("/readyz")
    assert never.status_code == 503
    assert never.headers["content-type"] == "application/json"
    assert never.headers["retry-after"]
    body = never.json()
    assert body["error"] == "worker_not_ready"
    assert [j["job"] for j in body["jobs"]] == ["analytics", "mail"]
    assert all(j["age_seconds"] is None for j in body["jobs"])
    assert "avowal worker" in body["message"] and "analytics never beat" in body["message"]
    # /healthz stays up: the process answers.
    assert client.get("/healthz").status_code == 200

    now = clock.now()
    for job in jobs.JOBS:
        _beat(app, job.name, now)
    assert client.get("/readyz").json() == {"status": "ready"}

    # The analytics job stops beating: once past its interval plus the allowance, not ready.
    limit = jobs.ANALYTICS.interval(settings) + settings.worker_stale_seconds
    _beat(app, "analytics", now - dt.timedelta(seconds=limit - 5))
    assert client.get("/readyz").status_code == 200
    _beat(app, "analytics", now - dt.timedelta(seconds=limit + 30))
    stale = client.get("/readyz")
    assert stale.status_code == 503
    found = stale.json()["jobs"]
    assert [j["job"] for j in found] == ["analytics"]
    assert limit + 29 <= found[0]["age_seconds"] <= limit + 60
    assert found[0]["limit_seconds"] == limit
    assert "analytics last beat" in stale.json()["message"]


def test_readyz_without_a_separate_worker_ignores_heartbeats(client: TestClient) -> None:
    # The test mode (as an embedded server) expects no worker apart: no heartbeat, still ready.
    assert client.get("/readyz").status_code == 200


def test_readyz_names_a_key_that_does_not_work(app: FastAPI, client: TestClient) -> None:
    secrets = app.state.secrets
    assert client.get("/readyz").status_code == 200
    app.state.secrets = dataclasses.replace(secrets, index_key=secrets.index_key[:16])
    short = client.get("/readyz")
    assert short.status_code == 503
    assert short.json()["error"] == "keys_unavailable" and short.json()["key"] == "index_key"
    app.state.secrets = secrets
    # The keyring file changed under the server into something that is not a keyring: the next
    # wrap reloads it and fails.
    path = app.state.settings.master_key_path
    kept = path.read_bytes()
    try:
        path.write_text("{}")
        os.utime(path, (1, 1))
        broken = client.get("/readyz")
        assert broken.status_code == 503
        assert broken.json()["error"] == "keys_unavailable"
        assert broken.json()["key"] == "master_keyring"
    finally:
        path.write_bytes(kept)
    assert client.get("/readyz").status_code == 200


def test_worker_passes_are_counted_and_shown_in_metrics(settings: Settings, engine: Engine) -> None:
    fast = settings.model_copy(
        update={"metrics_token": SecretStr(TOKEN), "mail_interval_seconds": 0.01}
    )
    app = create_app(fast, engine=engine)
    calls: list[int] = []

    def mail_pass() -> int:
        calls.append(1)
        if len(calls) == 2:
            raise RuntimeError("a pass that fails")
        return len(calls)

    async def main() -> None:
        task = asyncio.create_task(
            jobs.run_forever(jobs.MAIL, app.state.sessionmaker, fast, mail_pass, first_delay=0)
        )
        for _ in range(400):
            await asyncio.sleep(0.01)
            if len(calls) >= 3:
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    with app.state.read_sessionmaker() as session:
        mail = heartbeat.read(session)["mail"]
    assert mail.runs >= 3 and mail.failures == 1
    with TestClient(app) as client:
        answer = client.get("/metrics", headers={"Authorization": f"Bearer {TOKEN}"})
    assert answer.status_code == 200
    families = {f.name: f for f in text_string_to_metric_families(answer.text)}
    runs = {s.labels["job"]: s.value for s in families["avowal_worker_runs"].samples}
    assert runs == {"analytics": 0, "mail": mail.runs}
    failures = {s.labels["job"]: s.value for s in families["avowal_worker_failures"].samples}
    assert failures == {"analytics": 0, "mail": 1}
    ages = {
        s.labels["job"]: s.value for s in families["avowal_worker_heartbeat_age_seconds"].samples
    }
    # The analytics job never ran: no age at all, rather than a made-up one.
    assert set(ages) == {"mail"} and 0 <= ages["mail"] < 60

"""Failures are visible: JSON 503 (storage) or 500, /readyz, 413 for chunked bodies (hole 11)."""

from __future__ import annotations

import json
import sqlite3
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, make_url, select

from avowal.app import create_app
from avowal.db.engine import make_engine
from avowal.settings import Settings
from avowal.vault.models import Subject
from tests.factories import REGISTRATION

CANARY = "canary-7f3e"


def collect(client: TestClient, token: str, ref: str = "user-1") -> Any:
    auth = {"Authorization": f"Bearer {token}"}
    notice = client.get("/v1/notices/registration", headers=auth).json()["notice_id"]
    body = {"notice_id": notice, "subject": {"ref": ref}, "values": REGISTRATION}
    return client.post("/v1/collect/registration", json=body, headers=auth)


def subjects(app: FastAPI) -> int:
    with app.state.sessionmaker() as session:
        return int(session.scalar(select(func.count()).select_from(Subject)) or 0)


def driver_error(engine: Engine, kind: str, message: str) -> Exception:
    """Return the driver's own exception class ``kind`` (as the database would raise it)."""
    error: type[Exception] = getattr(engine.dialect.loaded_dbapi, kind)
    return error(message)


@pytest.mark.parametrize(
    "message", ["database or disk is full", "database is locked", "could not write to file"]
)
def test_a_storage_error_answers_json_503_and_nothing_is_kept(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, str],
    fail_inserts: list[Exception],
    message: str,
) -> None:
    fail_inserts.append(driver_error(app.state.engine, "OperationalError", message))
    response = collect(client, tokens["web_backend"], ref=CANARY)
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["error"] == "storage_unavailable"
    assert "again" in body["message"]
    assert response.headers["retry-after"] == "5"
    assert response.headers["content-type"] == "application/json"
    assert response.headers["x-content-type-options"] == "nosniff"
    assert CANARY not in response.text and "INSERT" not in response.text
    assert subjects(app) == 0


def test_an_unexpected_exception_answers_json_500_without_details(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, str],
    fail_inserts: list[Exception],
) -> None:
    fail_inserts.append(RuntimeError(f"a bug quoting {CANARY}"))
    response = collect(client, tokens["web_backend"])
    assert response.status_code == 500
    assert set(response.json()) == {"error", "message"}
    assert response.json()["error"] == "internal_error"
    assert CANARY not in response.text and "RuntimeError" not in response.text
    assert subjects(app) == 0


def test_a_constraint_violation_is_a_bug_not_a_storage_outage(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, str],
    fail_inserts: list[Exception],
) -> None:
    fail_inserts.append(driver_error(app.state.engine, "IntegrityError", f"duplicate {CANARY}"))
    response = collect(client, tokens["web_backend"])
    assert response.status_code == 500
    assert response.json()["error"] == "internal_error"


def test_the_service_answers_again_once_storage_is_back(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, str],
    fail_inserts: list[Exception],
) -> None:
    fail_inserts.append(driver_error(app.state.engine, "OperationalError", "database is locked"))
    assert collect(client, tokens["web_backend"]).status_code == 503
    fail_inserts.clear()
    assert collect(client, tokens["web_backend"]).status_code == 201
    assert subjects(app) == 1


# --- /readyz and /healthz ----------------------------------------------------------------


def test_readyz_answers_when_the_database_takes_writes(client: TestClient, app: FastAPI) -> None:
    response = client.get("/readyz")
    assert response.status_code == 200
    assert response.json() == {"status": "ready"}
    assert response.headers["cache-control"] == "no-store"
    # The probe wrote nothing.
    assert subjects(app) == 0


@pytest.fixture
def locked(settings: Settings, client: TestClient) -> Iterator[None]:
    """Hold the database's write lock from another connection (as a stuck writer would)."""
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        conn = sqlite3.connect(str(url.database), isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield
        finally:
            conn.execute("ROLLBACK")
            conn.close()
        return
    with psycopg.connect(url.set(drivername="postgresql").render_as_string(False)) as pg:
        pg.execute("LOCK TABLE alembic_version IN ACCESS EXCLUSIVE MODE")
        try:
            yield
        finally:
            pg.rollback()


@pytest.mark.usefixtures("locked")
def test_readyz_fails_fast_when_the_database_is_locked_and_healthz_stays_up(
    client: TestClient,
) -> None:
    started = time.monotonic()
    response = client.get("/readyz")
    assert response.status_code == 503
    assert response.json()["error"] == "storage_unavailable"
    assert time.monotonic() - started < 4
    # Liveness: the process answers, reads work.
    assert client.get("/healthz").status_code == 200


def test_readyz_fails_on_a_read_only_database(
    settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite":
        read_only = f"sqlite:///file:{url.database}?mode=ro&uri=true"
    else:
        with engine.connect() as conn:
            conn.exec_driver_sql(
                f'ALTER DATABASE "{url.database}" SET default_transaction_read_only = on'
            )
            conn.commit()
        read_only = settings.effective_database_url
    ro_settings = settings.model_copy(update={"database_url": read_only})
    ro_engine = make_engine(ro_settings)
    try:
        # No lifespan: starting would itself write (the policy version).
        app = create_app(ro_settings, engine=ro_engine)
        http = TestClient(app)
        response = http.get("/readyz")
        assert response.status_code == 503
        assert response.json()["error"] == "storage_unavailable"
        assert http.get("/healthz").status_code == 200
    finally:
        ro_engine.dispose()


# --- bodies without a Content-Length -----------------------------------------------------


def chunks(total: int, size: int = 4096) -> Iterator[bytes]:
    sent = 0
    while sent < total:
        yield b" " * min(size, total - sent)
        sent += size


def test_an_oversized_chunked_body_gets_413(
    client: TestClient, app: FastAPI, settings: Settings, tokens: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens['web_backend']}"}
    for path in ("/v1/collect/registration", "/api/event", "/console/login"):
        response = client.post(
            path,
            content=chunks(settings.max_body_bytes + 1),
            headers={**auth, "Content-Type": "application/json"},
        )
        assert response.request.headers.get("transfer-encoding") == "chunked"
        assert "content-length" not in response.request.headers
        assert response.status_code == 413, (path, response.text)
        assert response.json()["error"] == "body_too_large"
        assert response.json()["limit"] == settings.max_body_bytes
    assert subjects(app) == 0


def test_a_chunked_body_within_the_limit_is_served(
    client: TestClient, app: FastAPI, tokens: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens['web_backend']}"}
    notice = client.get("/v1/notices/registration", headers=auth).json()["notice_id"]
    document = {"notice_id": notice, "subject": {"ref": "user-1"}, "values": REGISTRATION}
    body = json.dumps(document).encode()
    response = client.post(
        "/v1/collect/registration",
        content=iter([body[:10], body[10:]]),
        headers={**auth, "Content-Type": "application/json"},
    )
    assert response.status_code == 201, response.text
    assert subjects(app) == 1


def test_a_body_that_is_not_utf8_gets_a_named_400(client: TestClient) -> None:
    answer = client.post(
        "/v1/collect/registration",
        content=b'{"notice_id": "\xff\xfe"}',
        headers={"content-type": "application/json", "Authorization": "Bearer avw_x"},
    )
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_body"
    assert "not UTF-8" in body["message"]

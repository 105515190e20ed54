"""Logs hold no personal data, on error paths too (issue 8, hole 9).

Canaries (an e-mail, a ref, a name) go through every error path reachable from outside; the
captured log (in process, and a real `avowal serve`'s output) must not contain any of them, nor a
client address or a query string.
"""

from __future__ import annotations

import io
import logging
import logging.config
import re
import sqlite3
import uuid
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, exc, insert
from sqlalchemy.orm import Session

from avowal.callers import service as callers
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.lib import logs
from avowal.lib.errors import describe
from avowal.policy.loader import load_file
from avowal.settings import EXAMPLE_POLICY, Settings
from avowal.vault.models import Subject
from tests import server
from tests.factories import REGISTRATION

REPO_ROOT = Path(__file__).resolve().parents[3]
TAG = uuid.uuid4().hex[:10]
EMAIL = f"canary-{TAG}@example.com"
REF = f"ref-canary-{TAG}"
NAME = f"Canary Zebedee{TAG}"
CANARIES = (EMAIL, REF, NAME, TAG)
VALUES = {**REGISTRATION, "name": NAME, "email": EMAIL}
MARKETING = "marketing.communications.email"
CLIENT_LOGGERS = ("httpx", "httpcore")


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} found in the log"
    assert "?" + "purpose" not in text


def notice(http: TestClient | httpx.Client, auth: dict[str, str]) -> str:
    answer = http.get("/v1/notices/registration", headers=auth)
    identifier: str = answer.json()["notice_id"]
    return identifier


def error_paths(http: TestClient | httpx.Client, auth: dict[str, str]) -> list[int]:
    """Send the canaries down every refusal reachable from outside; return the statuses."""
    n = notice(http, auth)
    ok = http.post(
        "/v1/collect/registration",
        json={"notice_id": n, "subject": {"ref": REF}, "values": VALUES},
        headers=auth,
    )
    assert ok.status_code == 201, ok.text
    subject = ok.json()["subject_id"]
    statuses = [
        # Validation errors: an unknown field, a bad type, broken JSON, a stale notice.
        http.post(
            "/v1/collect/registration",
            json={"notice_id": n, "subject": {"ref": REF}, "values": {**VALUES, NAME: EMAIL}},
            headers=auth,
        ).status_code,
        http.post(
            "/v1/collect/registration",
            json={"notice_id": n, "subject": {"ref": [REF]}, "values": {"email": [EMAIL]}},
            headers=auth,
        ).status_code,
        http.post(
            "/v1/collect/registration",
            content=f'{{"values": {{"email": "{EMAIL}", '.encode(),
            headers={**auth, "Content-Type": "application/json"},
        ).status_code,
        http.post(
            "/v1/collect/registration",
            json={"notice_id": f"n-{TAG}", "subject": {"ref": REF}, "values": VALUES},
            headers=auth,
        ).status_code,
        # Refused reads and lookups, with canaries in the query string.
        http.get(
            f"/v1/subjects/{subject}/data", params={"purpose": MARKETING, "x": EMAIL}, headers=auth
        ).status_code,
        http.get(
            f"/v1/subjects/{subject}/data", params={"purpose": EMAIL}, headers=auth
        ).status_code,
        http.get(
            "/v1/subjects/lookup",
            params={"field": "email", "value": EMAIL, "purpose": MARKETING},
            headers=auth,
        ).status_code,
        # No token, a wrong token, an unknown path holding a canary.
        http.get(f"/v1/subjects/{subject}/data", params={"purpose": REF}).status_code,
        http.get(
            f"/v1/subjects/{subject}/data",
            params={"purpose": REF},
            headers={"Authorization": f"Bearer {REF}"},
        ).status_code,
        http.get(f"/no/such/{EMAIL}", params={"ref": REF}).status_code,
        # A body over the limit, without a Content-Length.
        http.post(
            "/v1/collect/registration",
            content=iter([EMAIL.encode() * 10000]),
            headers={**auth, "Content-Type": "application/json"},
        ).status_code,
    ]
    assert all(400 <= s < 500 for s in statuses), statuses
    return statuses


# --- in process, on both databases -------------------------------------------------------


def test_no_canary_reaches_the_log_on_any_error_path(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, str],
    fail_inserts: list[Exception],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.DEBUG)
    auth = {"Authorization": f"Bearer {tokens['web_backend']}"}
    error_paths(client, auth)
    dbapi = app.state.engine.dialect.loaded_dbapi
    body = {"notice_id": notice(client, auth), "subject": {"ref": f"{REF}-2"}, "values": VALUES}
    for failure, status in [
        (dbapi.OperationalError(f"database or disk is full near {EMAIL}"), 503),
        (dbapi.IntegrityError(f"duplicate key: (ref)=({REF})"), 500),
        (ValueError(f"unexpected value {NAME}"), 500),
    ]:
        fail_inserts[:] = [failure]
        answer = client.post("/v1/collect/registration", json=body, headers=auth)
        assert answer.status_code == status
        assert_clean(answer.text)
    # The error paths were logged (so the scan below saw them), without their messages.
    assert "storage_unavailable during POST /v1/collect/{point}" in caplog.text
    assert "internal_error during POST /v1/collect/{point}: ValueError at " in caplog.text
    # Everything the server side logged (the test's own HTTP client logs what it sent).
    server_side = [r for r in caplog.records if not r.name.startswith(CLIENT_LOGGERS)]
    assert len(server_side) >= 3
    for record in server_side:
        assert_clean(f"{record.getMessage()} {record.args} {record.exc_text} {record.exc_info}")


def test_sql_errors_hide_their_parameters_and_the_log_keeps_only_codes(engine: Engine) -> None:
    with pytest.raises(exc.IntegrityError) as failed, engine.begin() as conn:
        row = {"id": str(uuid.uuid4()), "ref": REF}
        conn.execute(insert(Subject).values(**row))
        conn.execute(insert(Subject).values(**row))
    error = failed.value
    assert "[SQL parameters hidden due to hide_parameters=True]" in str(error)
    # PostgreSQL's own message still quotes values (DETAIL: Failing row contains ...), which is why
    # a log line never holds an exception's message, only its description.
    assert_clean(describe(error))
    assert re.search(r"IntegrityError\[\S+ (23\d{3}|SQLITE_CONSTRAINT\w*)\]", describe(error))


def test_the_server_log_formatter_withholds_exception_messages() -> None:
    stream = io.StringIO()
    config = logs.uvicorn_config()
    config["handlers"]["stderr"]["stream"] = stream
    logging.config.dictConfig(config)
    try:
        try:
            raise KeyError(EMAIL)
        except KeyError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    finally:
        logging.config.dictConfig({"version": 1, "disable_existing_loggers": False})
    text = stream.getvalue()
    assert "Exception in ASGI application" in text
    assert "KeyError at " in text
    assert_clean(text)


# --- a real `avowal serve` ---------------------------------------------------------------


def test_a_running_server_logs_no_canary_no_address_and_no_query(tmp_path: Path) -> None:
    database = tmp_path / "avowal.sqlite3"
    url = f"sqlite:///{database}"
    settings = Settings(env="test", data_dir=tmp_path, database_url=url)
    engine = make_engine(settings)
    migrate.upgrade(engine)
    try:
        policy = load_file(REPO_ROOT / EXAMPLE_POLICY)
        with Session(engine) as session, session.begin():
            token = callers.create(session, policy, "web_backend", "web_backend")
    finally:
        engine.dispose()
    env = server.serve_env(tmp_path, url, REPO_ROOT / EXAMPLE_POLICY)
    log_path = tmp_path / "serve.log"
    auth = {"Authorization": f"Bearer {token}"}
    with (
        server.running(env, log_path) as avowal,
        httpx.Client(base_url=avowal.url, timeout=30.0) as http,
    ):
        error_paths(http, auth)
        # Storage failure: another process holds the write lock past the busy timeout.
        held = sqlite3.connect(database, isolation_level=None)
        held.execute("BEGIN IMMEDIATE")
        try:
            body = {"notice_id": notice(http, auth), "subject": {"ref": REF}, "values": VALUES}
            locked = http.post(f"/v1/collect/registration?ref={REF}", json=body, headers=auth)
            assert locked.status_code == 503, locked.text
            assert http.get("/readyz").status_code == 503
        finally:
            held.execute("ROLLBACK")
            held.close()
        assert http.get("/readyz").status_code == 200
    output = log_path.read_text(errors="replace")
    assert_clean(output)
    assert "storage_unavailable during POST /v1/collect/{point}" in output
    # Access lines name the route, never the path, the client or the query.
    assert re.search(r"GET /v1/subjects/\{subject_id\}/data 403 ", output), output[-3000:]
    assert "POST /v1/collect/{point} 413 " in output
    assert "GET (no route) 404 " in output
    assert not re.search(r"127\.0\.0\.1:\d+ - ", output)
    assert "/no/such" not in output

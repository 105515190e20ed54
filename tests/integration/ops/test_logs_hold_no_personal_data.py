"""Logs hold no personal data, on error paths too (issue 8, hole 9).

Canaries (an e-mail, a ref, a name) go through every error path reachable from outside; the
captured log (in process, and a real `avowal serve`'s output) must not contain any of them, nor a
client address or a query string.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import logging.config
import re
import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

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
# Incoming request ids that are replaced: too long, a space, markup, empty.
BAD_REQUEST_IDS = ("a" * 65, "two words", "<b>id</b>", "")
GOOD_REQUEST_ID = "proxy-7.a_B"
GENERATED_ID = re.compile(r"[0-9a-f]{32}")


def assert_clean(text: str) -> None:
    for canary in CANARIES:
        assert canary not in text, f"{canary!r} found in the log"
    assert "?" + "purpose" not in text


@contextlib.contextmanager
def server_log(log_format: logs.LogFormat = "text") -> Iterator[io.StringIO]:
    """Configure logging as `avowal serve` does, into a string; put the loggers back after."""
    stream = io.StringIO()
    config = logs.uvicorn_config(log_format=log_format)
    config["handlers"]["stderr"]["stream"] = stream
    names = [None, *config["loggers"]]
    saved = [
        (lg, lg.handlers[:], lg.level, lg.propagate, lg.disabled)
        for lg in (logging.getLogger(n) for n in names)
    ]
    logging.config.dictConfig(config)
    try:
        yield stream
    finally:
        for lg, handlers, level, propagate, disabled in saved:
            lg.handlers[:] = handlers
            lg.setLevel(level)
            lg.propagate, lg.disabled = propagate, disabled


def request_ids_seen(http: TestClient | httpx.Client) -> list[str]:
    """Keep the X-Request-ID of every answer ``http`` receives, in order."""
    seen: list[str] = []
    http.event_hooks["response"].append(lambda r: seen.append(r.headers["x-request-id"]))
    return seen


def send_request_ids(http: TestClient | httpx.Client) -> None:
    """Send a good incoming request id, then bad ones: the good one is kept, the bad replaced."""
    kept = http.get("/healthz", headers={"X-Request-ID": GOOD_REQUEST_ID})
    assert kept.headers["x-request-id"] == GOOD_REQUEST_ID
    for bad in BAD_REQUEST_IDS:
        answer = http.get("/healthz", headers={"X-Request-ID": bad})
        assert GENERATED_ID.fullmatch(answer.headers["x-request-id"]), answer.headers
    fresh = http.get("/healthz")
    assert GENERATED_ID.fullmatch(fresh.headers["x-request-id"])


def check_json_log(text: str) -> list[dict[str, Any]]:
    """Check every line is one JSON object, access lines have their fields, and nothing personal
    or refused is there; return the access lines."""
    assert_clean(text)
    entries = [json.loads(line) for line in text.splitlines()]
    assert entries and all(isinstance(e, dict) for e in entries)
    for entry in entries:
        assert {"time", "level", "logger", "message"} <= entry.keys(), entry
    access = [e for e in entries if e["logger"] == "avowal.access"]
    for entry in access:
        assert {"route", "method", "status", "duration_ms", "request_id"} <= entry.keys(), entry
        assert entry["route"] == "(no route)" or entry["route"].startswith("/"), entry
        assert isinstance(entry["status"], int) and isinstance(entry["duration_ms"], float)
    for bad in BAD_REQUEST_IDS[:-1]:
        assert bad not in text
    assert GOOD_REQUEST_ID in text
    return access


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


@pytest.mark.parametrize("log_format", ["text", "json"])
def test_the_server_log_formatter_withholds_exception_messages(log_format: logs.LogFormat) -> None:
    with server_log(log_format) as stream:
        try:
            raise KeyError(EMAIL)
        except KeyError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    text = stream.getvalue()
    assert "Exception in ASGI application" in text
    assert "KeyError at " in text
    assert_clean(text)
    if log_format == "json":
        (entry,) = [json.loads(line) for line in text.splitlines()]
        assert entry["level"] == "ERROR" and entry["logger"] == "uvicorn.error"
        assert entry["exception"].startswith("(exception message withheld) KeyError at ")


def test_json_access_lines_carry_the_answers_request_ids_and_nothing_personal(
    app: FastAPI, tokens: dict[str, str], fail_inserts: list[Exception]
) -> None:
    auth = {"Authorization": f"Bearer {tokens['web_backend']}"}
    with server_log("json") as stream, TestClient(logs.AccessLog(app, app.routes)) as http:
        sent = request_ids_seen(http)
        send_request_ids(http)
        error_paths(http, auth)
        body = {"notice_id": notice(http, auth), "subject": {"ref": f"{REF}-2"}, "values": VALUES}
        dbapi = app.state.engine.dialect.loaded_dbapi
        fail_inserts[:] = [dbapi.OperationalError(f"database or disk is full near {EMAIL}")]
        failed = http.post("/v1/collect/registration", json=body, headers=auth)
        assert failed.status_code == 503
    access = check_json_log(stream.getvalue())
    assert [e["request_id"] for e in access] == sent
    assert len(sent) >= 18
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    # A line written while answering carries the request's id too.
    (storage,) = [e for e in entries if e["message"].startswith("storage_unavailable during")]
    assert storage["request_id"] == failed.headers["x-request-id"] == access[-1]["request_id"]
    assert {"route": "/v1/subjects/{subject_id}/data", "method": "GET", "status": 403}.items() <= (
        next(e for e in access if e["status"] == 403).items()
    )
    assert any(e["route"] == "(no route)" and e["status"] == 404 for e in access)


# --- a real `avowal serve` ---------------------------------------------------------------


def _migrated_with_token(tmp_path: Path) -> tuple[Path, str, str]:
    """Make a migrated SQLite database in ``tmp_path``; return its file, URL and a back end's
    service token."""
    database = tmp_path / "avowal.sqlite3"
    url = f"sqlite:///{database}"
    engine = make_engine(Settings(env="test", data_dir=tmp_path, database_url=url))
    migrate.upgrade(engine)
    try:
        policy = load_file(REPO_ROOT / EXAMPLE_POLICY)
        with Session(engine) as session, session.begin():
            token = callers.create(session, policy, "web_backend", "web_backend")
    finally:
        engine.dispose()
    return database, url, token


def test_a_running_server_logs_no_canary_no_address_and_no_query(tmp_path: Path) -> None:
    database, url, token = _migrated_with_token(tmp_path)
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


def test_a_running_server_logs_json_lines_with_request_ids(tmp_path: Path) -> None:
    _, url, token = _migrated_with_token(tmp_path)
    env = server.serve_env(tmp_path, url, REPO_ROOT / EXAMPLE_POLICY)
    env["AVOWAL_LOG_FORMAT"] = "json"
    log_path = tmp_path / "serve.log"
    with (
        server.running(env, log_path) as avowal,
        httpx.Client(base_url=avowal.url, timeout=30.0) as http,
    ):
        sent = request_ids_seen(http)
        send_request_ids(http)
        error_paths(http, {"Authorization": f"Bearer {token}"})
    lines = log_path.read_text(errors="replace").splitlines()
    # The command's own banner goes to stdout (captured in the same file here); the log to stderr.
    banner = [line for line in lines if line.startswith("avowal serving ")]
    assert len(banner) == 1
    logged = "\n".join(line for line in lines if line not in banner)
    assert not re.search(r"127\.0\.0\.1:\d+ - ", logged)
    access = check_json_log(logged)
    # The start-up probe's requests come first (their answers were not seen here).
    assert [e["request_id"] for e in access][-len(sent) :] == sent
    assert len(sent) >= 17

"""Four server processes on one PostgreSQL database append to one unbroken, unforked chain."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from avowal.audit import service as audit
from avowal.cli import app as cli
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.settings import Settings
from tests import pg
from tests.conftest import REPO_ROOT
from tests.factories import REGISTRATION

pytestmark = pytest.mark.postgres

SERVERS = 4
THREADS = 16
COLLECTIONS = 120  # each followed by a read from another server: 240 audited requests
START_TIMEOUT = 30.0
READ_PURPOSE = "essential.service.authentication"

runner = CliRunner()


@dataclass
class Server:
    """One `avowal serve` process."""

    port: int
    process: subprocess.Popen[bytes]
    log: IO[bytes]
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        self.log.flush()
        return self.log_path.read_text(errors="replace")[-4000:]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def _avowal() -> list[str]:
    script = Path(sys.executable).parent / "avowal"
    if script.exists():
        return [str(script)]
    found = shutil.which("avowal")
    assert found, "the avowal command is not installed"
    return [found]


def _stop(server: Server) -> None:
    try:
        if server.process.poll() is None:
            server.process.terminate()
            try:
                server.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                server.process.kill()
                server.process.wait(timeout=10)
    finally:
        server.log.close()


def _wait_healthy(server: Server, deadline: float) -> None:
    with httpx.Client(base_url=server.url, timeout=2.0) as http:
        while True:
            if server.process.poll() is not None:
                pytest.fail(
                    f"server on port {server.port} exited {server.process.returncode}:\n"
                    f"{server.output()}"
                )
            with contextlib.suppress(httpx.TransportError):
                if http.get("/healthz").status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"server on port {server.port} did not answer:\n{server.output()}")
            time.sleep(0.1)


@pytest.fixture
def database(postgres_server: pg.PostgresServer) -> Iterator[str]:
    url = postgres_server.create_database()
    try:
        yield url
    finally:
        postgres_server.drop_database(url)


@pytest.fixture
def env(database: str, tmp_path: Path) -> dict[str, str]:
    """The environment of the servers and the CLI: one database, one shared data folder."""
    base = {k: v for k, v in os.environ.items() if not k.startswith("AVOWAL_")}
    return {
        **base,
        "AVOWAL_ENV": "test",
        "AVOWAL_DATABASE_URL": database,
        "AVOWAL_DATA_DIR": str(tmp_path / "data"),
        "AVOWAL_POLICY_FILE": str(REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"),
    }


@pytest.fixture
def token(env: dict[str, str]) -> str:
    """Migrate, create the keys once (the servers share them), and a web_backend token."""
    # Only the test's AVOWAL_ settings: any others of the caller's environment are unset.
    cli_env: dict[str, str | None] = {k: None for k in os.environ if k.startswith("AVOWAL_")}
    cli_env.update({k: v for k, v in env.items() if k.startswith("AVOWAL_")})
    out = runner.invoke(cli, ["db", "upgrade"], env=cli_env)
    assert out.exit_code == 0, out.output
    # Four servers starting on an empty data folder would each generate development keys at
    # once; `audit verify` loads (and so creates) them first, and checks the empty chain.
    out = runner.invoke(cli, ["audit", "verify"], env=cli_env)
    assert out.exit_code == 0, out.output
    assert "audit chain intact: 0 entries" in out.stdout
    out = runner.invoke(cli, ["token", "create", "site", "--role", "web_backend"], env=cli_env)
    assert out.exit_code == 0, out.output
    value = out.stdout.strip()
    assert value.startswith("avw_"), out.stdout
    return value


@pytest.fixture
def servers(env: dict[str, str], token: str, tmp_path: Path) -> Iterator[list[Server]]:
    """Start the server processes and wait until each answers; always stop them all."""
    started: list[Server] = []
    try:
        for i in range(SERVERS):
            port = _free_port()
            log_path = tmp_path / f"server-{i}.log"
            log = log_path.open("wb")
            try:
                process = subprocess.Popen(
                    [*_avowal(), "serve", "--host", "127.0.0.1", "--port", str(port)],
                    cwd=tmp_path,
                    env=env,
                    stdin=subprocess.DEVNULL,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            except BaseException:
                log.close()
                raise
            started.append(Server(port, process, log, log_path))
        deadline = time.monotonic() + START_TIMEOUT
        for server in started:
            _wait_healthy(server, deadline)
        yield started
    finally:
        for server in started:
            _stop(server)


@pytest.fixture
def sessions(database: str, tmp_path: Path) -> Iterator[sessionmaker[Session]]:
    """Sessions on the servers' database, for verifying the chain from outside."""
    engine = make_engine(Settings(database_url=database, data_dir=tmp_path / "data"))
    try:
        yield make_sessionmaker(engine)
    finally:
        engine.dispose()


def test_four_servers_append_one_unbroken_chain(
    servers: list[Server], token: str, sessions: sessionmaker[Session]
) -> None:
    began = time.monotonic()
    headers = {"Authorization": f"Bearer {token}"}
    clients = [httpx.Client(base_url=s.url, headers=headers, timeout=30.0) for s in servers]
    running = threading.Event()
    live: list[audit.Verification] = []

    def watch() -> None:
        """Verify the chain over and over while the servers append to it."""
        while running.is_set():
            with sessions() as session:
                live.append(audit.verify(session))

    watcher = threading.Thread(target=watch)
    try:
        notice = clients[0].get("/v1/notices/registration").json()["notice_id"]
        failures: list[str] = []
        lock = threading.Lock()

        def fail(what: str, response: httpx.Response) -> None:
            with lock:
                failures.append(f"{what}: {response.status_code} {response.text[:300]}")

        def work(i: int) -> tuple[int, int]:
            """Collect person i on one server, then read them back through another."""
            email = f"person{i}@example.com"
            other = i + 1 + (i // SERVERS) % (SERVERS - 1)  # never the writer itself
            writer, reader = clients[i % SERVERS], clients[other % SERVERS]
            r = writer.post(
                "/v1/collect/registration",
                json={
                    "notice_id": notice,
                    "subject": {"ref": f"person-{i}"},
                    "values": {**REGISTRATION, "email": email},
                },
            )
            if r.status_code != 201:
                fail(f"collect {i}", r)
                return 0, 0
            sid = r.json()["subject_id"]
            r = reader.get(f"/v1/subjects/{sid}/data", params={"purpose": READ_PURPOSE})
            if r.status_code != 200:
                fail(f"read {i}", r)
                return 1, 0
            if r.json()["values"]["email"]["value"] != email:
                fail(f"read {i} returned the wrong value", r)
            return 1, 1

        order = list(range(COLLECTIONS))
        random.Random(7).shuffle(order)
        running.set()
        watcher.start()
        with ThreadPoolExecutor(THREADS) as pool:
            done = list(pool.map(work, order))
    finally:
        running.clear()
        if watcher.is_alive():
            watcher.join()
        for c in clients:
            c.close()
    elapsed = time.monotonic() - began
    assert failures == []
    collects = sum(c for c, _ in done)
    reads = sum(r for _, r in done)
    assert (collects, reads) == (COLLECTIONS, COLLECTIONS)
    assert elapsed < 60, f"the load took {elapsed:.1f}s"

    # Only the audited actions wrote entries: nothing at startup, for health checks, notices
    # or tokens.
    expected = collects + reads
    with sessions() as session:
        result = audit.verify(session)
        rows = session.execute(
            text("SELECT seq, prev_hash, action, actor, role FROM audit_entries ORDER BY seq")
        ).all()
    assert result == audit.Verification(True, expected, expected), result
    # A verification running while servers append sees a consistent chain too.
    assert live, "the watcher never verified"
    assert [v for v in live if not v.ok] == []
    seqs = [r.seq for r in rows]
    assert seqs == list(range(1, expected + 1))
    assert len({r.prev_hash for r in rows}) == expected  # no fork: no entry has two successors
    actions: dict[str, int] = {}
    for r in rows:
        actions[r.action] = actions.get(r.action, 0) + 1
    assert actions == {"collect": COLLECTIONS, "read": COLLECTIONS}
    assert {(r.actor, r.role) for r in rows} == {("site", "web_backend")}

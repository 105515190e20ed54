"""A PostgreSQL server for the test session: a given URL or a throwaway local cluster."""

from __future__ import annotations

import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import time
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import psycopg
from psycopg import sql
from sqlalchemy.engine import URL, make_url

PG_BIN = Path("/usr/lib/postgresql/15/bin")
URL_ENV = "AVOWAL_TEST_POSTGRES_URL"
# initdb and postgres refuse to run as root; these are tried in order when we are root.
UNPRIVILEGED_USERS = ("postgres", "nobody")
START_TIMEOUT = 60


class ClusterError(RuntimeError):
    """The throwaway PostgreSQL cluster could not be created or started."""


def in_ci() -> bool:
    """Return whether we run under CI, where the PostgreSQL run must never be skipped."""
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


def binaries_available() -> bool:
    """Return whether the PostgreSQL 15 server binaries are installed."""
    return all(os.access(PG_BIN / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres"))


@dataclass(frozen=True)
class PostgresServer:
    """A reachable server on which each test gets its own database."""

    url: URL

    def _admin(self) -> psycopg.Connection[tuple[object, ...]]:
        # CREATE/DROP DATABASE cannot run inside a transaction.
        return psycopg.connect(
            host=self.url.host,
            port=self.url.port,
            user=self.url.username,
            password=self.url.password,
            dbname="postgres",
            autocommit=True,
            connect_timeout=10,
        )

    def create_database(self, template: str | None = None) -> str:
        """Create an empty database (a copy of ``template`` if given); return its SQLAlchemy URL."""
        name = f"t_{secrets.token_hex(8)}"
        create = sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name))
        if template is not None:
            create = sql.SQL("{} TEMPLATE {}").format(create, sql.Identifier(template))
        with self._admin() as conn:
            conn.execute(create)
        return self.url.set(drivername="postgresql+psycopg", database=name).render_as_string(
            hide_password=False
        )

    @staticmethod
    def database_name(url: str) -> str:
        """Return the name of a database made by ``create_database``."""
        name = make_url(url).database
        assert name and name.startswith("t_"), name
        return name

    def drop_database(self, url: str) -> None:
        """Drop a database made by ``create_database``, even if a connection was left open."""
        name = self.database_name(url)
        with self._admin() as conn:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


class Supply:
    """Fresh copies of a template database, made ahead on a background thread.

    ``CREATE DATABASE ... TEMPLATE`` keeps the server busy for a good part of a second while the
    test process only waits; made ahead, the next test's copy is ready when it starts. Each test
    still gets a database of its own, a copy no one has used. Databases given back are dropped
    on the same thread; a failure there is raised by ``close``.
    """

    def __init__(self, server: PostgresServer, template: str, ahead: int = 2) -> None:
        self.server = server
        self.template = template
        self.ahead = ahead
        self._worker = ThreadPoolExecutor(max_workers=1, thread_name_prefix="pg-supply")
        self._ready: deque[Future[str]] = deque()
        self._dropping: list[Future[None]] = []

    def _make(self) -> Future[str]:
        return self._worker.submit(self.server.create_database, self.template)

    def take(self) -> str:
        """Return the URL of a fresh copy of the template, ordering the next ones."""
        if not self._ready:
            self._ready.append(self._make())
        taken = self._ready.popleft()
        while len(self._ready) < self.ahead:
            self._ready.append(self._make())
        return taken.result()

    def give_back(self, url: str) -> None:
        """Drop a database returned by ``take`` (in the background)."""
        self._dropping = [f for f in self._dropping if not f.done() or f.exception()]
        self._dropping.append(self._worker.submit(self.server.drop_database, url))

    def close(self) -> None:
        """Drop the copies nobody took; wait for every drop and raise the first failure."""
        try:
            while self._ready:
                made = self._ready.popleft()
                if made.exception() is None:
                    self.give_back(made.result())
            for dropping in self._dropping:
                dropping.result()
        finally:
            self._worker.shutdown(wait=True, cancel_futures=True)


def server_from_env() -> PostgresServer | None:
    """Return the server named by AVOWAL_TEST_POSTGRES_URL, if set."""
    value = os.environ.get(URL_ENV, "").strip()
    return PostgresServer(make_url(value)) if value else None


class TempCluster:
    """A PostgreSQL 15 cluster in a temporary folder, on 127.0.0.1 and a free port."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="avowal-pg-"))
        self.data = self.root / "data"
        self.log = self.root / "postgres.log"
        self.user: pwd.struct_passwd | None = None
        self.port = 0
        self.startup_seconds = 0.0

    @classmethod
    def start(cls) -> TempCluster:
        """Create and start a cluster; clean up and raise ClusterError on failure."""
        cluster = cls()
        try:
            cluster._start()
        except BaseException:
            cluster.stop()
            raise
        return cluster

    @property
    def server(self) -> PostgresServer:
        """Return the server, reached as its superuser ``postgres`` over TCP."""
        return PostgresServer(
            URL.create("postgresql+psycopg", username="postgres", host="127.0.0.1", port=self.port)
        )

    def _start(self) -> None:
        began = time.monotonic()
        if os.geteuid() == 0:
            self.user = _unprivileged_user()
            os.chown(self.root, self.user.pw_uid, self.user.pw_gid)
        self._run(
            "initdb",
            "--pgdata",
            str(self.data),
            "--username=postgres",
            "--auth=trust",
            "--encoding=UTF8",
            "--no-locale",
            "--no-sync",
        )
        # A free port can be taken between our probe and the server's bind; try a few.
        for attempt in range(3):
            self.port = _free_port()
            options = " ".join(
                [
                    f"-p {self.port}",
                    f"-k {self.root}",
                    "-c listen_addresses=127.0.0.1",
                    "-c fsync=off",
                    "-c synchronous_commit=off",
                    "-c full_page_writes=off",
                    "-c max_connections=200",
                ]
            )
            try:
                self._run(
                    "pg_ctl",
                    "start",
                    "--pgdata",
                    str(self.data),
                    "--log",
                    str(self.log),
                    "--wait",
                    f"--timeout={START_TIMEOUT}",
                    "-o",
                    options,
                )
            except ClusterError:
                if attempt == 2 or "already in use" not in self._log_text():
                    raise
                continue
            break
        self.startup_seconds = time.monotonic() - began

    def stop(self) -> None:
        """Stop the server (if started) and delete its folder."""
        try:
            # Judge by the pid file, not by our bookkeeping: a start that timed out may still
            # have left a running server behind.
            if (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "stop", "-D", str(self.data), "--mode=immediate", "--wait")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def _run(self, program: str, *args: str) -> None:
        command = [str(PG_BIN / program), *args]
        if self.user is not None:
            command = ["runuser", "-u", self.user.pw_name, "--", *command]
        # Keep PG* variables of the caller from pointing the tools elsewhere; run from a
        # folder the unprivileged user may enter.
        env = {k: v for k, v in os.environ.items() if not k.startswith("PG")}
        env["LC_ALL"] = "C"
        try:
            done = subprocess.run(
                command,
                cwd=self.root,
                env=env,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT + 30,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ClusterError(f"{' '.join(command)}: {exc}") from exc
        if done.returncode != 0:
            raise ClusterError(
                f"{' '.join(command)} exited {done.returncode}\n"
                f"stdout: {done.stdout.strip()}\nstderr: {done.stderr.strip()}\n"
                f"server log:\n{self._log_text()}"
            )

    def _log_text(self) -> str:
        with contextlib.suppress(OSError):
            return self.log.read_text(errors="replace")[-4000:]
        return "(no log)"


def _unprivileged_user() -> pwd.struct_passwd:
    for name in UNPRIVILEGED_USERS:
        with contextlib.suppress(KeyError):
            return pwd.getpwnam(name)
    raise ClusterError(f"running as root and none of the users {UNPRIVILEGED_USERS} exists")


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port

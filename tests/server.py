"""Run `avowal serve` as a real process on a free port (crash and browser tests)."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import httpx
import pytest

START_TIMEOUT = 30.0


def free_port() -> int:
    """Return a TCP port nobody listens on (at the moment of asking)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


# The `avowal` command as a subprocess runs it, with this interpreter.
AVOWAL = [sys.executable, "-c", "from avowal.cli import main; main()"]


def avowal(env: dict[str, str], *args: str, timeout: float = 120) -> str:
    """Run an `avowal` command in ``env``; fail the test unless it succeeds; return its stdout."""
    done = subprocess.run(
        [*AVOWAL, *args], env=env, capture_output=True, text=True, timeout=timeout, check=False
    )
    assert done.returncode == 0, (args, done.stdout, done.stderr)
    return done.stdout


def serve_env(data_dir: Path, database_url: str, policy_file: Path) -> dict[str, str]:
    """Return the environment of a test server: our settings only, none of the caller's."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVOWAL_")}
    env.update(
        AVOWAL_ENV="test",
        # As `avowal serve` runs in production: events committed by the writer process (the test
        # mode's default is a thread), so real trackers and browsers go through it.
        AVOWAL_ANALYTICS_WRITER="process",
        AVOWAL_DATA_DIR=str(data_dir),
        AVOWAL_DATABASE_URL=database_url,
        AVOWAL_POLICY_FILE=str(policy_file),
    )
    return env


@dataclass
class Server:
    """One running `avowal serve`."""

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

    def writers(self) -> list[int]:
        """Return the pids of this server's ingest writer processes (analytics.writer)."""
        found = []
        for task in Path(f"/proc/{self.process.pid}/task").glob("*/children"):
            for pid in task.read_text().split():
                with contextlib.suppress(OSError):
                    command = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
                    if b"avowal.analytics.writer" in command:
                        found.append(int(pid))
        return found

    def kill(self) -> None:
        """SIGKILL: no shutdown handler runs, nothing queued in memory is flushed."""
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)


def _wait_healthy(server: Server) -> None:
    deadline = time.monotonic() + START_TIMEOUT
    with httpx.Client(base_url=server.url, timeout=2.0) as http:
        while True:
            if server.process.poll() is not None:
                pytest.fail(f"avowal serve exited {server.process.returncode}:\n{server.output()}")
            with contextlib.suppress(httpx.TransportError):
                if http.get("/healthz").status_code == 200:
                    return
            if time.monotonic() > deadline:
                pytest.fail(f"avowal serve did not answer in {START_TIMEOUT} s:\n{server.output()}")
            time.sleep(0.1)


@contextlib.contextmanager
def running(env: dict[str, str], log_path: Path, port: int | None = None) -> Iterator[Server]:
    """Start `avowal serve` on ``port`` (a free one if none); stop it (if running) on leaving."""
    port = port or free_port()
    command = [*AVOWAL, "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    log = log_path.open("wb")
    process = subprocess.Popen(
        command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
    )
    server = Server(port, process, log, log_path)
    try:
        _wait_healthy(server)
        yield server
    finally:
        try:
            if process.poll() is None:
                process.terminate()
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)
        finally:
            log.close()

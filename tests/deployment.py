"""A production deployment on this machine, as docs/deploy.md makes it: the settings of
deploy/avowal.env.example, keys, schema, attestations, a token, `avowal serve --workers N` and
`avowal worker` as processes of their own (tests/integration/ops/test_deploy.py performs the
guide, test_load.py and bench/bench_load.py load it)."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.server import AVOWAL, avowal, free_port

ROOT = Path(__file__).resolve().parents[1]
DEPLOY = ROOT / "deploy"
HOST = "privacy.example.com"
ATTESTED = ("internal_review", "physical_security", "confidentiality_contract")


def settings(db_url: str, tmp_path: Path) -> dict[str, str]:
    """The environment of deploy/avowal.env.example, with this machine's paths and database
    (and mail kept as files: no SMTP server here)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AVOWAL_")}
    for line in (DEPLOY / "avowal.env.example").read_text().splitlines():
        if line.strip() and not line.startswith("#"):
            key, value = line.split("=", 1)
            env[key] = value
    keys = tmp_path / "etc" / "keys"
    env.update(
        AVOWAL_DATABASE_URL=db_url,
        AVOWAL_DATA_DIR=str(tmp_path / "var"),
        AVOWAL_POLICY_FILE=str(ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"),
        AVOWAL_MASTER_KEY_FILE=str(keys / "master.json"),
        AVOWAL_INDEX_KEY_FILE=str(keys / "index.key"),
        AVOWAL_SIGNING_KEY_FILE=str(keys / "signing.pem"),
        AVOWAL_MAIL_TRANSPORT="files",
        AVOWAL_METRICS_TOKEN="metrics-token-of-the-test-0123456789",
        AVOWAL_ANALYTICS_WRITER="thread",
    )
    env.pop("AVOWAL_SMTP_HOST")
    return env


@contextlib.contextmanager
def process(
    command: list[str], env: dict[str, str], log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("wb") as out:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT
        )
        try:
            yield process
        finally:
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=10)


def wait(url: str, process: subprocess.Popen[bytes], log: Path, **kwargs: object) -> None:
    deadline = time.monotonic() + 60
    with httpx.Client(timeout=2.0, verify=False) as http:
        while True:
            assert process.poll() is None, log.read_text(errors="replace")[-3000:]
            with contextlib.suppress(httpx.TransportError):
                if http.get(url, **kwargs).status_code == 200:  # type: ignore[arg-type]
                    return
            assert time.monotonic() < deadline, log.read_text(errors="replace")[-3000:]
            time.sleep(0.2)


def children(pid: int) -> list[int]:
    """Return the process ids of a process's children."""
    found = []
    for task in Path(f"/proc/{pid}/task").glob("*/children"):
        found += [int(p) for p in task.read_text().split()]
    return found


@dataclass(frozen=True)
class Deployment:
    """A running deployment: the servers' address, the back end's token, the settings."""

    url: str
    port: int
    token: str
    env: dict[str, str]
    server: subprocess.Popen[bytes]
    worker: subprocess.Popen[bytes]
    log: Path


def prepare(db_url: str, folder: Path) -> tuple[dict[str, str], str]:
    """Do the guide's steps before starting anything; return the settings and the token."""
    env = settings(db_url, folder)
    keys = Path(env["AVOWAL_MASTER_KEY_FILE"]).parent
    made = avowal(env, "keys", "init", "--dir", str(keys))
    for setting in ("AVOWAL_MASTER_KEY_FILE", "AVOWAL_INDEX_KEY_FILE", "AVOWAL_SIGNING_KEY_FILE"):
        assert f"{setting}={env[setting]}" in made  # the lines the example file has
    avowal(env, "keys", "check")
    avowal(env, "db", "upgrade")
    for promise in ATTESTED:
        avowal(env, "promises", "attest", promise, "--by", "Dana Officer")
    token = avowal(env, "token", "create", "web-backend", "--role", "web_backend").strip()
    return env, token


@contextlib.contextmanager
def deployed(db_url: str, folder: Path, workers: int) -> Iterator[Deployment]:
    """Prepare and start the servers (``workers`` processes) and the worker."""
    env, token = prepare(db_url, folder)
    port = free_port()
    serve = [*AVOWAL, "serve"]
    serve += ["--host", "127.0.0.1", "--port", str(port), "--workers", str(workers)]
    worker = [*AVOWAL, "worker"]
    log = folder / "serve.log"
    with (
        process(serve, env, log) as server,
        process(worker, env, folder / "worker.log") as background,
    ):
        # Ready: the database takes writes, the keys work, the worker has beaten.
        wait(f"http://127.0.0.1:{port}/readyz", server, log)
        yield Deployment(f"http://127.0.0.1:{port}", port, token, env, server, background, log)

"""A collection is atomic: a fault at any step, or a crash, leaves nothing at all behind."""

from __future__ import annotations

import contextlib
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import Engine, event, func, select

from avowal.audit import service as audit
from avowal.audit.models import AuditEntry
from avowal.client import AvowalError, Client
from avowal.crypto import cipher
from avowal.settings import EXAMPLE_POLICY
from avowal.vault import collection
from avowal.vault.models import BlindIndex, PersonalValue, Receipt, Subject
from tests.conftest import REPO_ROOT
from tests.factories import REGISTRATION
from tests.server import Server, _wait_healthy, free_port, serve_env


class Fault(RuntimeError):
    """The injected failure."""


def _everything(app: FastAPI) -> dict[str, int]:
    with app.state.sessionmaker() as s:
        return {
            t.__name__: s.scalar(select(func.count()).select_from(t)) or 0
            for t in (Subject, Receipt, PersonalValue, BlindIndex, AuditEntry)
        }


def _raise(*_: Any, **__: Any) -> None:
    raise Fault("injected")


@contextlib.contextmanager
def _on_insert(model: type[Any]) -> Iterator[None]:
    """Fail the statement inserting into the model's table, however it is sent (ORM or Core)."""
    prefix = f"INSERT INTO {model.__tablename__} "

    def fail(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.startswith(prefix):
            raise Fault("injected")

    event.listen(Engine, "before_cursor_execute", fail)
    try:
        yield
    finally:
        event.remove(Engine, "before_cursor_execute", fail)


def _after_subject(monkeypatch: pytest.MonkeyPatch) -> contextlib.AbstractContextManager[None]:
    real = collection._subject

    def subject_then_fail(*args: Any, **kwargs: Any) -> Any:
        real(*args, **kwargs)
        raise Fault("after the subject")

    monkeypatch.setattr(collection, "_subject", subject_then_fail)
    return contextlib.nullcontext()


def _key(monkeypatch: pytest.MonkeyPatch) -> contextlib.AbstractContextManager[None]:
    monkeypatch.setattr(cipher, "encrypt", _raise)
    return contextlib.nullcontext()


def _audit(monkeypatch: pytest.MonkeyPatch) -> contextlib.AbstractContextManager[None]:
    monkeypatch.setattr(audit, "append_many", _raise)
    return contextlib.nullcontext()


STEPS: dict[str, Callable[[pytest.MonkeyPatch], contextlib.AbstractContextManager[None]]] = {
    "subject": _after_subject,
    "key": _key,
    "values": lambda _: _on_insert(PersonalValue),
    "index": lambda _: _on_insert(BlindIndex),
    "receipt": lambda _: _on_insert(Receipt),
    "audit": _audit,
}


@pytest.mark.parametrize("step", list(STEPS))
def test_a_fault_at_any_step_of_a_collection_leaves_nothing(
    step: str, backend: Client, app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    notice = backend.notice("registration")["notice_id"]
    before = _everything(app)
    with STEPS[step](monkeypatch), pytest.raises((Fault, AvowalError)) as info:
        backend.collect("registration", REGISTRATION, ref="user-fault", notice_id=notice)
    # The fault reaches the test, or the app answers it as the error it is.
    if isinstance(info.value, AvowalError):
        assert info.value.status == 500
    assert _everything(app) == before
    monkeypatch.undo()
    # The same person can then be collected cleanly: no half-made subject is in the way.
    done = backend.collect("registration", REGISTRATION, ref="user-fault")
    assert _everything(app)["Subject"] == before["Subject"] + 1
    assert done["receipt"]["fields"] == sorted(REGISTRATION)


# A server that stops for good in the middle of a collection, after the subject row was written.
PAUSING_SERVER = """
import sys, time
from pathlib import Path
from avowal.vault import collection
real = collection._subject
marker = Path(sys.argv[1])
def pausing(*args, **kwargs):
    out = real(*args, **kwargs)
    args[0].flush()
    marker.write_text("paused")
    time.sleep(3600)
    return out
collection._subject = pausing
sys.argv = ["avowal", *sys.argv[2:]]
from avowal.cli import main
main()
"""


def test_sigkill_in_the_middle_of_a_collection_leaves_no_orphan_subject(
    app: FastAPI, backend: Client, tokens: dict[str, str], db_url: str, tmp_path: Path
) -> None:
    """The subject row is in the same transaction as everything else, even on SQLite."""
    notice = backend.notice("registration")["notice_id"]
    before = _everything(app)
    marker = tmp_path / "paused"
    env = serve_env(app.state.settings.data_dir, db_url, REPO_ROOT / EXAMPLE_POLICY)
    port = free_port()
    log_path = tmp_path / "server.log"
    command = [sys.executable, "-c", PAUSING_SERVER, str(marker), "serve"]
    command += ["--host", "127.0.0.1", "--port", str(port)]
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            command, env=env, stdin=subprocess.DEVNULL, stdout=log, stderr=subprocess.STDOUT
        )
        server = Server(port, process, log, log_path)
        try:
            _wait_healthy(server)
            body = {"notice_id": notice, "subject": {"ref": "user-crash"}, "values": REGISTRATION}
            headers = {"Authorization": f"Bearer {tokens['web_backend']}"}

            answers: list[str] = []

            def post() -> None:
                try:
                    r = httpx.post(
                        f"{server.url}/v1/collect/registration",
                        json=body,
                        headers=headers,
                        timeout=60,
                    )
                    answers.append(f"{r.status_code} {r.text}")
                except httpx.TransportError as exc:
                    answers.append(repr(exc))

            sender = threading.Thread(target=post)
            sender.start()
            deadline = time.monotonic() + 30
            while not marker.exists():
                assert time.monotonic() < deadline, (answers, server.output())
                time.sleep(0.05)
            server.kill()
            sender.join(timeout=30)
        finally:
            if process.poll() is None:
                server.kill()
    after = _everything(app)
    assert after == before, "the killed collection left rows behind"
    with app.state.sessionmaker() as s:
        assert s.scalar(select(Subject).where(Subject.ref == "user-crash")) is None

"""The ingest's group commits written by a process of their own.

A server process answers events on one event loop, and Python runs one thread at a time. Written
from a thread of the server, a group commit (hashing, converting and inserting the rows, then
the commit) competes with the event loop for that lock, and each of the driver's calls hands it
over and takes it back: measured, the database work then cost the loop about as much processor
time per event as the rest of the event. So each server process starts one writer process
(``python -m avowal.analytics.writer``: a fresh interpreter, nothing of the server's state
copied, and nothing of the script that started the server run again, as ``multiprocessing``'s
*spawn* would) with its own engine on the same database, and hands it each batch through a
socket pair (``multiprocessing.connection``'s framing of pickles); the writer commits it in one
transaction and answers. A 202 still means committed: the server answers only once the writer
has said so.

- **One batch at a time.** The group commit sends a batch and waits for the answer before it
  sends the next (see :mod:`avowal.analytics.batcher`), as it did with a thread.
- **A failed batch** is answered with the name of the error (the writer logs it, without
  values); the group commit then retries in halves, as before.
- **A writer that dies** (killed, out of memory) fails the batch in flight; the next batch starts
  a new writer. A writer never outlives its server: it ignores SIGINT and SIGTERM (a terminal's
  Ctrl-C or a service manager's stop reaches the whole process group, and the server still has
  batches to hand over), stops when the server says so at shutdown, and ends when the pipe
  closes because the server ended, even by SIGKILL.

``Settings.analytics_writer`` chooses: ``process``, ``thread`` (the old way, in a thread of the
server), or ``auto`` (a process, except in the test mode, whose many short-lived applications
would each start one).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import signal
import socket
import subprocess
import sys
import threading
from collections.abc import Sequence
from multiprocessing.connection import Connection
from typing import Any

from avowal.analytics.ingest import PendingEvent
from avowal.settings import Settings

log = logging.getLogger(__name__)
# How long a new writer may take to import, connect and say it is ready.
START_SECONDS = 60.0
# How often a wait for an answer checks that the writer is still alive.
POLL_SECONDS = 1.0
STOP_SECONDS = 30.0
READY = "ready"


class WriterFailed(Exception):
    """A batch was not committed by the writer process (its error's name, or why it ended)."""


def uses_process(settings: Settings) -> bool:
    """Say whether the ingest writes through a process of its own under ``settings``."""
    if settings.analytics_writer == "auto":
        return settings.env != "test"
    return settings.analytics_writer == "process"


class WriterProcess:
    """The server's side of the writer: start it, hand it batches, stop it."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self.connection: Connection | None = None
        self.started = 0  # how many writers this server has started (a restart adds one)
        self._lock = threading.Lock()

    @property
    def alive(self) -> bool:
        """Say whether a writer is running."""
        return self.process is not None and self.process.poll() is None

    def start(self) -> None:
        """Start a writer and wait until it is connected to the database."""
        with self._lock:
            self._start()

    def _start(self) -> None:
        ours, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        connection = Connection(ours.detach())
        try:
            connection.send(self.settings)
            if not connection.poll(START_SECONDS) or connection.recv() != READY:
                raise WriterFailed("the writer process did not start")
        except (EOFError, OSError):
            _end(process)
            connection.close()
            raise WriterFailed(
                f"the writer process ended on start (exit code {process.returncode})"
            ) from None
        except WriterFailed:
            _end(process)
            connection.close()
            raise
        self.process, self.connection = process, connection
        self.started += 1

    def write(self, events: Sequence[PendingEvent], now: dt.datetime) -> None:
        """Return once the writer has committed ``events``; raise :class:`WriterFailed` if not."""
        with self._lock:
            if not self.alive:
                self._discard()
                self._start()
            assert self.connection is not None and self.process is not None
            try:
                self.connection.send((list(events), now))
                while not self.connection.poll(POLL_SECONDS):
                    if self.process.poll() is not None:
                        raise EOFError
                answer = self.connection.recv()
            except (EOFError, OSError):
                _end(self.process)
                code = self.process.returncode
                self._discard()
                raise WriterFailed(f"the writer process ended (exit code {code})") from None
            if answer is not None:
                raise WriterFailed(str(answer))

    def stop(self) -> None:
        """Ask the writer to stop once it has committed what it was given, and wait for it."""
        with self._lock:
            if self.process is None or self.connection is None:
                return
            with contextlib.suppress(OSError):  # already ended: nothing to wait for
                self.connection.send(None)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.process.wait(STOP_SECONDS)
            self._discard()

    def _discard(self) -> None:
        if self.process is not None:
            _end(self.process)
        if self.connection is not None:
            self.connection.close()
        self.process = self.connection = None


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(5)


def _main(connection: Connection) -> None:
    """The writer process: commit each batch received, answer, until told to stop."""
    # Its server decides when it stops (see the module's notes).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from avowal.analytics import store
    from avowal.db.engine import make_engine, make_sessionmaker

    settings: Settings = connection.recv()
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    with engine.connect():
        pass  # connected: the server may hand over batches
    connection.send(READY)
    try:
        while True:
            try:
                message: Any = connection.recv()
            except (EOFError, OSError):
                return  # the server ended
            if message is None:
                return
            events, now = message
            try:
                with sessions() as session, session.begin():
                    store.write_events(session, events, now)
            except Exception as exc:
                # The exception's text may quote SQL parameters; its class is enough to act on.
                name = type(exc).__name__
                log.error("analytics batch of %d events not committed: %s", len(events), name)
                connection.send(name)
                continue
            connection.send(None)
    finally:
        engine.dispose()


if __name__ == "__main__":
    _main(Connection(int(sys.argv[1])))

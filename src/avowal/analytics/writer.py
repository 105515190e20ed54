"""The ingest's group commits written by a process of their own.

A server process answers events on one event loop, and Python runs one thread at a time. Written
from a thread of the server, a group commit (hashing, converting and inserting the rows, then
the commit) competes with the event loop for that lock, and each of the driver's calls hands it
over and takes it back: measured, the database work then cost the loop about as much processor
time per event as the rest of the event. So each server process starts one writer process
(``python -m avowal.analytics.writer``: a fresh interpreter, nothing of the server's state
copied, and nothing of the script that started the server run again, as ``multiprocessing``'s
*spawn* would) with its own engine on the same database, and hands it each batch through a
socket pair (a pickle behind its length) straight from the event loop, with no thread between
them; the writer commits it in one transaction and answers. A 202 still means committed: the
server answers only once the writer has said so.

- **One batch at a time.** The group commit sends a batch and waits for the answer before it
  sends the next (see :mod:`avowal.analytics.batcher`), as it did with a thread.
- **A failed batch** is answered with the name of the error (the writer logs it, without
  values); the group commit then retries in halves, as before.
- **A writer that dies** (killed, out of memory) fails the batch in flight; the next batch starts
  a new writer. A writer never outlives its server: it ignores SIGINT and SIGTERM (a terminal's
  Ctrl-C or a service manager's stop reaches the whole process group, and the server still has
  batches to hand over), stops when the server says so at shutdown, and ends when the
  socket closes because the server ended, even by SIGKILL.

``Settings.analytics_writer`` chooses: ``process``, ``thread`` (the old way, in a thread of the
server), or ``auto`` (a process, except in the test mode, whose many short-lived applications
would each start one).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
import pickle
import signal
import socket
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

from avowal.analytics.ingest import PendingEvent
from avowal.settings import Settings

log = logging.getLogger(__name__)
# How long a new writer may take to import, connect and say it is ready.
START_SECONDS = 60.0
STOP_SECONDS = 30.0
READY = "ready"
HEADER = 4  # bytes of a frame's length, big-endian


class WriterFailed(Exception):
    """A batch was not committed by the writer process (its error's name, or why it ended)."""


def uses_process(settings: Settings) -> bool:
    """Say whether the ingest writes through a process of its own under ``settings``."""
    if settings.analytics_writer == "auto":
        return settings.env != "test"
    return settings.analytics_writer == "process"


def frame(message: object) -> bytes:
    """Return ``message`` as sent between a server and its writer: its pickle's length, then it."""
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return len(data).to_bytes(HEADER, "big") + data


def receive(sock: socket.socket) -> Any:
    """Return the next message from a blocking socket; raise EOFError when it is closed."""
    return pickle.loads(_exactly(sock, int.from_bytes(_exactly(sock, HEADER), "big")))


def _exactly(sock: socket.socket, size: int) -> bytes:
    data = bytearray()
    while len(data) < size:
        chunk = sock.recv(size - len(data))
        if not chunk:
            raise EOFError
        data += chunk
    return bytes(data)


class WriterProcess:
    """The server's side of the writer: start it, hand it batches, stop it (in the event loop)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.process: subprocess.Popen[bytes] | None = None
        self.started = 0  # how many writers this server has started (a restart adds one)
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def alive(self) -> bool:
        """Say whether a writer is running."""
        return self.process is not None and self.process.poll() is None

    async def start(self) -> None:
        """Start a writer and wait until it is connected to the database."""
        self._lock = asyncio.Lock()
        async with self._lock:
            await self._start()

    async def _start(self) -> None:
        process, sock = await asyncio.to_thread(self._spawn)
        self._reader, self._writer = await asyncio.open_connection(sock=sock)
        self.process = process
        self.started += 1

    def _spawn(self) -> tuple[subprocess.Popen[bytes], socket.socket]:
        ours, theirs = socket.socketpair()
        with theirs:
            process = subprocess.Popen(
                [sys.executable, "-m", __name__, str(theirs.fileno())],
                pass_fds=(theirs.fileno(),),
                stdin=subprocess.DEVNULL,
            )
        try:
            ours.settimeout(START_SECONDS)
            ours.sendall(frame(self.settings))
            if receive(ours) != READY:
                raise EOFError
        except (EOFError, OSError):
            _end(process)
            ours.close()
            raise WriterFailed(
                f"the writer process did not start (exit code {process.returncode})"
            ) from None
        ours.settimeout(None)
        return process, ours

    async def write(self, events: Sequence[PendingEvent], now: dt.datetime) -> None:
        """Return once the writer has committed ``events``; raise :class:`WriterFailed` if not."""
        if self._lock is None:
            raise WriterFailed("the writer process was not started")
        async with self._lock:
            if not self.alive:
                await self._discard()
                await self._start()
            assert self._reader is not None and self._writer is not None
            try:
                self._writer.write(frame((list(events), now)))
                await self._writer.drain()
                size = int.from_bytes(await self._reader.readexactly(HEADER), "big")
                answer = pickle.loads(await self._reader.readexactly(size))
            except (OSError, asyncio.IncompleteReadError):
                code = await self._discard()
                raise WriterFailed(f"the writer process ended (exit code {code})") from None
            except asyncio.CancelledError:
                # The batch may be half sent: this writer cannot be trusted with the next one.
                await asyncio.shield(self._discard())
                raise
            if answer is not None:
                raise WriterFailed(str(answer))

    async def stop(self) -> None:
        """Ask the writer to stop once it has committed what it was given, and wait for it."""
        if self._lock is None or self.process is None or self._writer is None:
            return
        async with self._lock:
            with contextlib.suppress(OSError):  # already ended: nothing to wait for
                self._writer.write(frame(None))
                await self._writer.drain()
            process = self.process
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(process.wait, STOP_SECONDS)
            await self._discard()

    async def _discard(self) -> int | None:
        """Forget the writer (killed if it still runs); return its exit code."""
        process, writer = self.process, self._writer
        self.process = self._reader = self._writer = None
        if writer is not None:
            writer.close()
        if process is None:
            return None
        await asyncio.to_thread(_end, process)
        return process.returncode


def _end(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is None:
        process.kill()
    process.wait(5)


def _main(sock: socket.socket) -> None:
    """The writer process: commit each batch received, answer, until told to stop."""
    # Its server decides when it stops (see the module's notes).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from avowal.analytics import store
    from avowal.db.engine import make_engine, make_sessionmaker

    settings: Settings = receive(sock)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    with engine.connect():
        pass  # connected: the server may hand over batches
    sock.sendall(frame(READY))
    try:
        while True:
            try:
                message: Any = receive(sock)
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
                sock.sendall(frame(name))
                continue
            sock.sendall(frame(None))
    finally:
        engine.dispose()


if __name__ == "__main__":
    _main(socket.socket(fileno=int(sys.argv[1])))

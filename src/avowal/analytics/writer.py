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

- **What crosses.** A pending event carries the IP address and user agent as far as the
  transaction that hashes them (:mod:`avowal.analytics.store`), now the writer's: they cross the
  socket pair in memory, are never written to disk or logged, and are never stored.
- **Batches in flight.** The group commit sends the next batches while the writer commits one
  (see :mod:`avowal.analytics.batcher`); the writer commits together, in one transaction, the
  batches that arrived meanwhile (one durable commit for all of them), and answers each in
  order.
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
import operator
import pickle
import select
import signal
import socket
import subprocess
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from typing import Any

from sqlalchemy import make_url
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics.clickhouse import events
from avowal.analytics.clickhouse.events import ClickHouseEvents
from avowal.analytics.ingest import PendingEvent
from avowal.settings import Settings

log = logging.getLogger(__name__)
# How long a new writer may take to import, connect and say it is ready.
START_SECONDS = 60.0
STOP_SECONDS = 30.0
# How long a writer whose socket closed may take to end on its own before it is killed.
END_GRACE_SECONDS = 5.0
READY = "ready"
HEADER = 4  # bytes of a frame's length, big-endian
# Most batches a writer commits in one transaction (those that arrived during its last commit).
JOINED = 8
# An event crosses as the tuple of its fields (half the pickling time of the object).
_FIELDS_OF = operator.attrgetter(*(f.name for f in fields(PendingEvent)))


class WriterFailed(Exception):
    """A batch was not committed by the writer process (its error's name, or why it ended)."""


def uses_process(settings: Settings) -> bool:
    """Say whether the ingest writes through a process of its own under ``settings``.

    Never for an in-memory SQLite database: another process would open a database of its own;
    nor for ClickHouse embedded by chdb, whose folder only one process may open.
    """
    url = make_url(settings.effective_database_url)
    if url.get_backend_name() == "sqlite" and url.database in (None, "", ":memory:"):
        return False
    clickhouse = events.of(settings)
    if clickhouse is not None and clickhouse.target.embedded:
        return False  # chdb opens its folder in one process only: the server's
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


@dataclass(eq=False)
class _Link:
    """One running writer: its process, the socket's writing end, the batches awaiting answers."""

    process: subprocess.Popen[bytes]
    writer: asyncio.StreamWriter
    waiting: deque[asyncio.Future[Any]] = field(default_factory=deque)
    answers: asyncio.Task[None] | None = None

    def fail_waiting(self, error: WriterFailed) -> None:
        while self.waiting:
            answer = self.waiting.popleft()
            if not answer.done():
                answer.set_exception(error)
                answer.exception()  # retrieved: nobody may wait any more


class WriterProcess:
    """The server's side of the writer: start it, hand it batches, stop it (in the event loop).

    Batches are sent as they come (the group commit keeps at most
    :data:`avowal.analytics.batcher.IN_FLIGHT` in flight) and the writer answers them in order:
    a reader task hands each answer to the oldest batch waiting.
    """

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.started = 0  # how many writers this server has started (a restart adds one)
        self._link: _Link | None = None
        self._lock: asyncio.Lock | None = None

    @property
    def process(self) -> subprocess.Popen[bytes] | None:
        """Return the running writer's process, if any."""
        return self._link.process if self._link is not None else None

    @property
    def alive(self) -> bool:
        """Say whether a writer is running."""
        return self._link is not None and self._link.process.poll() is None

    async def start(self) -> None:
        """Start a writer and wait until it is connected to the database."""
        self._lock = asyncio.Lock()
        async with self._lock:
            await self._start()

    async def _start(self) -> _Link:
        process, sock = await asyncio.to_thread(self._spawn)
        reader, writer = await asyncio.open_connection(sock=sock)
        link = self._link = _Link(process, writer)
        link.answers = asyncio.create_task(self._read_answers(link, reader))
        self.started += 1
        return link

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
        async with self._lock:  # one frame at a time, in the order of the answers
            link = self._link
            if link is None or link.process.poll() is not None:
                await self._discard()
                link = await self._start()
            answer: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
            link.waiting.append(answer)
            # Buffered whole by the transport: a cancelled wait never leaves half a frame.
            link.writer.write(frame(([_FIELDS_OF(e) for e in events], now)))
        with contextlib.suppress(OSError):  # ended: its reader task fails the batches waiting
            await link.writer.drain()
        outcome = await answer
        if outcome is not None:
            raise WriterFailed(str(outcome))

    async def _read_answers(self, link: _Link, reader: asyncio.StreamReader) -> None:
        """Hand each answer to the oldest batch waiting; fail them all when the writer ends."""
        try:
            while True:
                size = int.from_bytes(await reader.readexactly(HEADER), "big")
                outcome = pickle.loads(await reader.readexactly(size))
                answer = link.waiting.popleft()
                if not answer.done():
                    answer.set_result(outcome)
        except (OSError, asyncio.IncompleteReadError):
            # Its socket closed: the writer is ending (or the server closed it, see _discard).
            code = await asyncio.to_thread(_end, link.process, END_GRACE_SECONDS)
            link.fail_waiting(WriterFailed(f"the writer process ended (exit code {code})"))

    async def stop(self) -> None:
        """Ask the writer to stop once it has committed what it was given, and wait for it."""
        if self._lock is None:
            return
        async with self._lock:
            link = self._link
            if link is None:
                return
            with contextlib.suppress(OSError):  # already ended: nothing to wait for
                link.writer.write(frame(None))
                await link.writer.drain()
            with contextlib.suppress(subprocess.TimeoutExpired):
                await asyncio.to_thread(link.process.wait, STOP_SECONDS)
            await self._discard()

    async def _discard(self) -> None:
        """Forget the writer (killed if it still runs); batches waiting for it fail."""
        link, self._link = self._link, None
        if link is None:
            return
        link.writer.close()
        await asyncio.to_thread(_end, link.process)
        if link.answers is not None:
            with contextlib.suppress(asyncio.CancelledError):
                await link.answers  # ends with the socket closed
        link.fail_waiting(WriterFailed("the writer process was stopped"))


def _end(process: subprocess.Popen[bytes], grace: float = 0.0) -> int | None:
    """Kill ``process`` if it still runs (after ``grace`` seconds); return its exit code."""
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(grace)
    if process.poll() is None:
        process.kill()
    return process.wait(5)


def _main(sock: socket.socket) -> None:
    """The writer process: commit the batches received, answer each, until told to stop."""
    # Its server decides when it stops (see the module's notes).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    from avowal.db.engine import make_engine, make_sessionmaker

    settings: Settings = receive(sock)
    engine = make_engine(settings)
    sessions = make_sessionmaker(engine)
    clickhouse = events.of(settings)
    with engine.connect():
        if clickhouse is not None:
            clickhouse.client()
        # connected: the server may hand over batches
    sock.sendall(frame(READY))
    try:
        stopping = False
        while not stopping:
            try:
                first: Any = receive(sock)
            except (EOFError, OSError):
                return  # the server ended
            if first is None:
                return
            batches = [first]
            # The batches that arrived while the last one committed join this transaction.
            while len(batches) < JOINED and select.select([sock], [], [], 0)[0]:
                try:
                    more: Any = receive(sock)
                except (EOFError, OSError):
                    more = None
                if more is None:
                    stopping = True  # after these, committed all the same
                    break
                batches.append(more)
            for answer in _commit(sessions, batches, clickhouse):
                with contextlib.suppress(OSError):  # the server ended: nobody to answer
                    sock.sendall(frame(answer))
    finally:
        engine.dispose()


def _commit(
    sessions: sessionmaker[Session], batches: list[Any], clickhouse: ClickHouseEvents | None
) -> list[str | None]:
    """Commit ``batches`` in one transaction, or each alone if that fails; return the answers
    (None: committed, else the name of the error)."""
    from avowal.analytics import store

    try:
        with sessions() as session, session.begin():
            for rows, now in batches:
                store.write_events(
                    session,
                    [PendingEvent(*row) for row in rows],
                    now,
                    clickhouse=clickhouse,
                )
    except Exception as exc:
        if len(batches) > 1:
            return [
                answer for batch in batches for answer in _commit(sessions, [batch], clickhouse)
            ]
        # The exception's text may quote SQL parameters; its class is enough to act on.
        name = type(exc).__name__
        log.error("analytics batch of %d events not committed: %s", len(batches[0][0]), name)
        return [name]
    return [None] * len(batches)


if __name__ == "__main__":
    _main(socket.socket(fileno=int(sys.argv[1])))

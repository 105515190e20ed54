"""Group commit: events that arrive together are committed in one transaction, then answered.

A request hands its rows to :meth:`GroupCommit.submit` and waits. One writer task takes the
first waiting submission and everything queued behind it (up to ``max_batch`` rows), commits
them in a single transaction (through the server's writer process, :mod:`avowal.analytics.writer`,
or in a worker thread), and only then wakes each waiting request. An
answer of 202 therefore always means "committed": nothing acknowledged lives only in memory.
While one transaction commits, the next batch gathers, so the number of commits per second
stays small however many events arrive.

Events wait here for their commit for a few milliseconds, which makes the garbage collector's
full collections costly unless the heap of the started server is frozen: see
:mod:`avowal.lib.heap` (done when the application has started).

A waiting request awaits its own future directly (no ``asyncio.shield``): the rows are in the
queue, not in the future, so a request that is cancelled (its client hung up) cannot take its
rows out of a commit already under way; the writer commits them and skips the cancelled future.

For ``/metrics``, each committed batch's size is counted once (:class:`BatchSizes`, a handful of
integer operations per commit, nothing per event), and the queue's length is read when scraped
(:attr:`GroupCommit.waiting`).
"""

from __future__ import annotations

import asyncio
import bisect
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from typing import Generic, TypeVar

from avowal.analytics.exceptions import IngestUnavailable

T = TypeVar("T")
log = logging.getLogger(__name__)
# Batches handed to a writer process at once: it starts on the next ones as soon as it has
# committed one, in one transaction (see analytics.writer), instead of waiting for the event loop
# to take its answer and send another (measured: the loop, busy answering requests, left the
# writer idle between batches while events waited for it).
IN_FLIGHT = 6

Submission = tuple[Sequence[T], "asyncio.Future[None]"]
# Upper bounds of the batch-size histogram, in events a commit (AVOWAL_ANALYTICS_MAX_BATCH is at
# most 10,000); larger batches fall in the last bucket.
BATCH_BOUNDS = (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000)


class BatchSizes:
    """How many events each committed batch held: batches per size bucket, and the events."""

    __slots__ = ("buckets", "events")

    def __init__(self) -> None:
        # One count per bound of BATCH_BOUNDS, and one for the batches above the last.
        self.buckets = [0] * (len(BATCH_BOUNDS) + 1)
        self.events = 0

    def observe(self, size: int) -> None:
        """Count one committed batch of ``size`` events."""
        self.buckets[bisect.bisect_left(BATCH_BOUNDS, size)] += 1
        self.events += size


class GroupCommit(Generic[T]):
    """Commit rows submitted concurrently in shared transactions (one writer per process)."""

    def __init__(self, write: Callable[[Sequence[T]], None], max_batch: int) -> None:
        self.write = write
        # A writer awaited in the event loop instead (a process's; see analytics.writer).
        self.write_async: Callable[[Sequence[T]], Awaitable[None]] | None = None
        self.max_batch = max_batch
        self.queue: asyncio.Queue[Submission[T] | None] | None = None
        self.task: asyncio.Task[None] | None = None
        self.closed = False
        self.batches = 0
        self.sizes = BatchSizes()
        # 1 while the writer holds the first submission of a batch, waiting for a free place.
        self._held = 0

    @property
    def waiting(self) -> int:
        """Return how many submissions wait for their commit to begin (each is one request's
        events): those queued, and the one the writer holds while a commit is under way."""
        return (self.queue.qsize() if self.queue is not None else 0) + self._held

    @property
    def running(self) -> bool:
        """Say whether the writer task is accepting submissions."""
        return self.task is not None and not self.closed

    async def start(self) -> None:
        """Start the writer task in the running event loop."""
        self.queue = asyncio.Queue()
        self.closed = False
        self.task = asyncio.create_task(self._run(), name="analytics-group-commit")

    async def stop(self) -> None:
        """Commit everything already submitted, then stop the writer."""
        if self.task is None or self.queue is None:
            return
        self.closed = True
        self.queue.put_nowait(None)
        try:
            await self.task
        finally:
            self.task = None

    async def submit(self, rows: Sequence[T]) -> None:
        """Return once ``rows`` are committed; raise :class:`IngestUnavailable` if they are not."""
        if not rows:
            return
        if self.closed:
            raise IngestUnavailable("the server is shutting down; send the event again")
        if self.task is None or self.queue is None:
            # No writer (an application used without its lifespan): commit on our own.
            await self._commit_alone(rows)
            return
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self.queue.put_nowait((rows, future))
        # Cancelling this wait cancels only the future: the rows stay queued and are committed.
        await future

    async def _run(self) -> None:
        assert self.queue is not None
        stopping = False
        in_flight: set[asyncio.Task[None]] = set()
        while not stopping:
            first = await self.queue.get()
            if first is None:
                break
            # A writer process takes the next batch while it commits one (see IN_FLIGHT): wait
            # for a free place first, so that what arrives meanwhile joins this batch.
            self._held = 1
            while len(in_flight) >= self._in_flight_limit():
                await asyncio.wait(in_flight, return_when=asyncio.FIRST_COMPLETED)
            self._held = 0
            batch = [first]
            count = len(first[0])
            while count < self.max_batch and not self.queue.empty():
                item = self.queue.get_nowait()
                if item is None:
                    stopping = True
                    break
                batch.append(item)
                count += len(item[0])
            task = asyncio.create_task(self._commit(batch))
            in_flight.add(task)
            task.add_done_callback(in_flight.discard)
        if in_flight:
            await asyncio.wait(in_flight)

    def _in_flight_limit(self) -> int:
        # A thread's transactions would only wait for each other's locks.
        return IN_FLIGHT if self.write_async is not None else 1

    async def _commit(self, batch: list[Submission[T]]) -> None:
        rows = [row for submission in batch for row in submission[0]]
        try:
            await self._write(rows)
        except Exception as exc:
            log.error("analytics batch of %d events not committed: %s", len(rows), _name(exc))
            if len(batch) == 1:
                _settle(batch[0][1], exc)
                return
            # One bad submission must not sink the others: commit each half on its own, and so
            # on down to the bad one (a few transactions more, not one per submission).
            half = len(batch) // 2
            await self._commit(batch[:half])
            await self._commit(batch[half:])
            return
        self.batches += 1
        self.sizes.observe(len(rows))
        for _, future in batch:
            _settle(future, None)

    async def _write(self, rows: Sequence[T]) -> None:
        if self.write_async is not None:
            await self.write_async(rows)
        else:
            await asyncio.to_thread(self.write, rows)

    async def _commit_alone(self, rows: Sequence[T]) -> None:
        try:
            await self._write(rows)
        except Exception as exc:
            log.error("analytics event not committed: %s", _name(exc))
            raise _unavailable() from None
        self.sizes.observe(len(rows))


def _name(exc: BaseException) -> str:
    # The exception's text may quote SQL parameters; its class is enough to act on.
    return type(exc).__name__


def _unavailable() -> IngestUnavailable:
    return IngestUnavailable("the event could not be stored; nothing was kept, send it again")


def _settle(future: asyncio.Future[None], exc: BaseException | None) -> None:
    if future.done():
        return
    if exc is None:
        future.set_result(None)
    else:
        future.set_exception(_unavailable())
        # Nobody may be waiting any more (the client hung up): don't warn about it.
        with contextlib.suppress(Exception):
            future.exception()

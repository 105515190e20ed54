"""Group commit: concurrent submissions share transactions; an answer always follows a commit."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import Sequence

import pytest

from avowal.analytics.batcher import IN_FLIGHT, GroupCommit
from avowal.analytics.exceptions import IngestUnavailable


class Store:
    """A fake database: each write is one "transaction", slow enough for others to queue."""

    def __init__(self, poison: int | None = None, fail_all: bool = False) -> None:
        self.transactions: list[list[int]] = []
        self.poison = poison
        self.fail_all = fail_all
        self.lock = threading.Lock()

    def write(self, rows: Sequence[int]) -> None:
        time.sleep(0.01)
        if self.fail_all or (self.poison is not None and self.poison in rows):
            raise RuntimeError("constraint violated")
        with self.lock:
            self.transactions.append(list(rows))

    @property
    def committed(self) -> set[int]:
        return {row for t in self.transactions for row in t}


async def submit_all(batcher: GroupCommit[int], count: int) -> list[BaseException | None]:
    async def one(i: int) -> BaseException | None:
        try:
            await batcher.submit([i])
        except IngestUnavailable as exc:
            return exc
        # Answered: the row must already be committed.
        assert i in store_of(batcher).committed
        return None

    return await asyncio.gather(*(one(i) for i in range(count)))


def store_of(batcher: GroupCommit[int]) -> Store:
    owner = batcher.write.__self__  # type: ignore[attr-defined]
    assert isinstance(owner, Store)
    return owner


def run(store: Store, count: int, max_batch: int = 500) -> list[BaseException | None]:
    async def main() -> list[BaseException | None]:
        batcher = GroupCommit(store.write, max_batch)
        await batcher.start()
        try:
            return await submit_all(batcher, count)
        finally:
            await batcher.stop()

    return asyncio.run(main())


def test_concurrent_events_share_few_transactions() -> None:
    store = Store()
    assert run(store, 200) == [None] * 200
    assert store.committed == set(range(200))
    assert len(store.transactions) < 20


def test_batches_respect_the_maximum() -> None:
    store = Store()
    run(store, 100, max_batch=7)
    assert store.committed == set(range(100))
    assert max(len(t) for t in store.transactions) <= 7


def test_one_bad_event_does_not_sink_the_others() -> None:
    store = Store(poison=13)
    results = run(store, 50)
    assert isinstance(results[13], IngestUnavailable)
    assert [i for i, r in enumerate(results) if r is not None] == [13]
    assert store.committed == set(range(50)) - {13}


def test_a_bad_event_costs_a_few_transactions_not_one_per_event() -> None:
    store = Store(poison=150)
    results = run(store, 200)
    assert [i for i, r in enumerate(results) if r is not None] == [150]
    assert store.committed == set(range(200)) - {150}
    # The good events of the failed batch are committed in halves, not each alone.
    assert len(store.transactions) < 30


def test_a_failed_commit_is_never_acknowledged() -> None:
    store = Store(fail_all=True)
    results = run(store, 20)
    assert all(isinstance(r, IngestUnavailable) for r in results)
    assert store.committed == set()


def test_stop_commits_what_was_submitted_then_refuses() -> None:
    store = Store()

    async def main() -> None:
        batcher = GroupCommit(store.write, 500)
        await batcher.start()
        pending = [asyncio.create_task(batcher.submit([i])) for i in range(30)]
        await asyncio.sleep(0)  # all queued
        await batcher.stop()
        await asyncio.gather(*pending)
        with pytest.raises(IngestUnavailable):
            await batcher.submit([99])

    asyncio.run(main())
    assert store.committed == set(range(30))


def test_without_a_writer_task_each_submission_commits_alone() -> None:
    store = Store()
    asyncio.run(GroupCommit(store.write, 500).submit([1, 2]))
    assert store.transactions == [[1, 2]]


def test_an_awaited_writer_gets_batches_in_flight_and_each_answer_follows_its_commit() -> None:
    """A writer process commits one batch while the next are already handed over (IN_FLIGHT)."""
    committed: list[list[int]] = []
    flight = [0, 0]  # now, most

    async def write(rows: Sequence[int]) -> None:
        flight[0] += 1
        flight[1] = max(flight)
        await asyncio.sleep(0.01)
        flight[0] -= 1
        if 13 in rows:
            raise RuntimeError("constraint violated")
        committed.append(list(rows))

    async def main() -> list[BaseException | None]:
        batcher = GroupCommit(Store().write, 500)
        batcher.write_async = write
        await batcher.start()

        async def one(i: int) -> BaseException | None:
            await asyncio.sleep(i * 0.001)  # arriving over 0.2 s: many batches
            try:
                await batcher.submit([i])
            except IngestUnavailable as exc:
                return exc
            assert any(i in t for t in committed)  # answered only once committed
            return None

        try:
            return await asyncio.gather(*(one(i) for i in range(200)))
        finally:
            await batcher.stop()

    outcomes = asyncio.run(main())
    assert [i for i, o in enumerate(outcomes) if o is not None] == [13]
    assert sorted(r for t in committed for r in t) == [i for i in range(200) if i != 13]
    assert flight[1] == IN_FLIGHT > 1  # pipelined, and never more at once


def test_each_commit_counts_its_batch_size_once() -> None:
    store = Store()
    assert run(store, 120, max_batch=50) == [None] * 120
    sizes = [len(t) for t in store.transactions]
    assert max(sizes) > 1  # some events did share a commit
    assert sum(sizes) == 120
    # Re-run, keeping the batcher, to read what it counted.
    counted = GroupCommit(store.write, 50)

    async def main() -> None:
        await counted.start()
        try:
            before = len(store.transactions)
            await submit_all(counted, 120)
            made = [len(t) for t in store.transactions[before:]]
        finally:
            await counted.stop()
        assert sum(counted.sizes.buckets) == len(made) == counted.batches
        assert counted.sizes.events == 120
        for size in made:
            assert size <= 50
        # Every batch of one event is in the first bucket, and only those.
        assert counted.sizes.buckets[0] == made.count(1)

    asyncio.run(main())


def test_waiting_counts_the_submissions_queued_behind_a_commit() -> None:
    release = threading.Event()
    committed: list[int] = []

    def write(rows: Sequence[int]) -> None:
        release.wait(5)
        committed.extend(rows)

    async def main() -> None:
        batcher = GroupCommit(write, 500)
        assert batcher.waiting == 0
        await batcher.start()
        try:
            first = asyncio.create_task(batcher.submit([0]))
            await asyncio.sleep(0.05)  # the writer took it and is blocked in write()
            rest = [asyncio.create_task(batcher.submit([i])) for i in range(1, 8)]
            await asyncio.sleep(0.05)
            assert batcher.waiting == 7
            release.set()
            await asyncio.gather(first, *rest)
            assert batcher.waiting == 0
        finally:
            release.set()
            await batcher.stop()
        assert sorted(committed) == list(range(8))
        assert batcher.sizes.events == 8 and sum(batcher.sizes.buckets) == batcher.batches

    asyncio.run(main())

"""Write and read the worker's heartbeats (``worker_heartbeats``: one row per job)."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.db.upsert import dialect_insert
from avowal.lib import clock
from avowal.ops.models import WorkerHeartbeat


@dataclass(frozen=True)
class Heartbeat:
    """A job's last heartbeat and its passes so far."""

    job: str
    beat_at: dt.datetime
    runs: int
    failures: int

    def age(self, now: dt.datetime) -> float:
        """Return how many seconds ago the job last beat (never negative)."""
        return max((now - self.beat_at).total_seconds(), 0.0)


def beat(
    session: Session, job: str, now: dt.datetime, *, finished: bool = False, failed: bool = False
) -> None:
    """Record that ``job`` is alive at ``now``; with ``finished``, count a pass (and a failure
    with ``failed``). Two workers beating at once add up instead of failing."""
    runs, failures = int(finished), int(finished and failed)
    table = WorkerHeartbeat.__table__
    statement = dialect_insert(session, table).values(
        job=job, beat_at=now, runs=runs, failures=failures
    )
    session.execute(
        statement.on_conflict_do_update(
            index_elements=[table.c.job],
            set_={
                "beat_at": statement.excluded.beat_at,
                "runs": table.c.runs + runs,
                "failures": table.c.failures + failures,
            },
        )
    )


def read(session: Session) -> dict[str, Heartbeat]:
    """Return every job's heartbeat, by job name."""
    return {
        row.job: Heartbeat(row.job, clock.aware(row.beat_at), row.runs, row.failures)
        for row in session.scalars(select(WorkerHeartbeat))
    }

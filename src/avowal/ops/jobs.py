"""The worker's jobs, declared once, and the loop that runs each one and keeps its heartbeat.

Each job runs a pass every interval in a thread; before a pass its heartbeat is written, and
after it the pass is counted (and counted as failed when it raised, or reported a failure). A
pass that hangs therefore shows as a heartbeat growing old: ``/readyz`` answers
``worker_not_ready`` once it is older than the job's interval plus
``AVOWAL_WORKER_STALE_SECONDS`` (:mod:`avowal.web.ready`), and ``/metrics`` shows each job's
runs, failures and heartbeat age.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TypeVar

from sqlalchemy.orm import Session, sessionmaker

from avowal.db.engine import transaction
from avowal.lib import clock
from avowal.ops import heartbeat
from avowal.settings import Settings

log = logging.getLogger(__name__)
R = TypeVar("R")


@dataclass(frozen=True)
class Job:
    """A background job: its name (a metrics label and the heartbeat's key) and its interval."""

    name: str
    what: str
    interval: Callable[[Settings], float]


ANALYTICS = Job(
    "analytics", "analytics rollups and purges", lambda s: float(s.analytics_rollup_seconds)
)
MAIL = Job(
    "mail",
    "retention, expired parental requests, notices and mail delivery",
    lambda s: float(s.mail_interval_seconds),
)
JOBS = (ANALYTICS, MAIL)


def _beat(
    factory: sessionmaker[Session], job: Job, *, finished: bool = False, failed: bool = False
) -> None:
    # A heartbeat that cannot be written must not stop the job: readiness will say so.
    try:
        with transaction(factory) as session:
            heartbeat.beat(session, job.name, clock.now(), finished=finished, failed=failed)
    except Exception as exc:
        log.error("%s heartbeat not written: %s", job.name, type(exc).__name__)


async def run_forever(
    job: Job,
    factory: sessionmaker[Session],
    settings: Settings,
    run_pass: Callable[[], R],
    *,
    first_delay: float | None = None,
    on_pass: Callable[[R], None] | None = None,
    failed: Callable[[R], bool] | None = None,
) -> None:
    """Run ``run_pass`` in a thread every interval of ``job`` until cancelled, writing the job's
    heartbeat before each pass and counting each pass after it (failed when it raised or
    ``failed`` says so). A failing pass is logged and retried at the next tick."""
    interval = job.interval(settings)
    await asyncio.sleep(interval if first_delay is None else first_delay)
    while True:
        await asyncio.to_thread(_beat, factory, job)
        try:
            report = await asyncio.to_thread(run_pass)
        except Exception:
            log.exception("%s pass failed", job.what)
            await asyncio.to_thread(_beat, factory, job, finished=True, failed=True)
        else:
            bad = failed is not None and failed(report)
            await asyncio.to_thread(_beat, factory, job, finished=True, failed=bad)
            if on_pass is not None:
                on_pass(report)
        await asyncio.sleep(interval)

"""Keep rollups fresh and purge old raw events: one pass, or a loop (in-process or `avowal worker`).

A pass, for every site: roll up each pending day (today, yesterday until final, and any older
day with events never finally rolled up), one transaction per day; then delete the raw events of
days older than the policy's ``analytics.raw_retention_days``, one transaction per site-day, and
only for days whose rollup is final (rollups stay; nothing else needs the raw events).

Embedded (SQLite) servers run the loop inside the application; with PostgreSQL and several
server processes, each process may run it too: a PostgreSQL advisory lock makes concurrent
rollups of the same day wait for each other, and both replace the day whole.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import rollup
from avowal.analytics.models import Event, RollupState, Site
from avowal.db.engine import transaction
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings

log = logging.getLogger(__name__)


def utcnow() -> dt.datetime:
    """Return the current time in UTC (tests replace it)."""
    return dt.datetime.now(dt.UTC)


@dataclass
class PassReport:
    """What one pass did."""

    rolled: list[tuple[str, dt.date]] = field(default_factory=list)
    purged: list[tuple[str, dt.date, int]] = field(default_factory=list)

    @property
    def purged_events(self) -> int:
        """Return how many raw events the pass deleted."""
        return sum(count for _, _, count in self.purged)


def retention_cutoff(policy: LoadedPolicy, today: dt.date) -> dt.date:
    """Return the oldest day whose raw events are kept: older days are purged."""
    return today - dt.timedelta(days=policy.policy.analytics.raw_retention_days)


def _sites(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    with factory() as session:
        rows = session.execute(select(Site.id, Site.domain).order_by(Site.id))
        return [(r.id, r.domain) for r in rows]


def roll_pending(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime, report: PassReport
) -> None:
    """Roll up every pending day of every site, one transaction per day."""
    for site_id, domain in _sites(factory):
        with factory() as session:
            days = rollup.pending_days(session, site_id, now.date())
        for day in days:
            with transaction(factory) as session:
                rollup.roll_day(
                    session, site_id, day, now=now, visit_minutes=settings.analytics_visit_minutes
                )
            report.rolled.append((domain, day))


def purge(
    factory: sessionmaker[Session], policy: LoadedPolicy, now: dt.datetime, report: PassReport
) -> None:
    """Delete raw events of days before the retention cutoff whose rollups are final."""
    cutoff = retention_cutoff(policy, now.date())
    for site_id, domain in _sites(factory):
        with factory() as session:
            first = rollup.first_event_day(session, site_id)
            if first is None or first >= cutoff:
                continue
            finals = set(
                session.scalars(
                    select(RollupState.day).where(
                        RollupState.site_id == site_id,
                        RollupState.final.is_(True),
                        RollupState.day >= first,
                        RollupState.day < cutoff,
                    )
                )
            )
        day = first
        while day < cutoff:
            if day in finals:
                with transaction(factory) as session:
                    result = session.execute(
                        delete(Event).where(Event.site_id == site_id, Event.day == day)
                    )
                    count = getattr(result, "rowcount", 0) or 0
                if count:
                    report.purged.append((domain, day, count))
            else:
                log.warning("raw events of %s on %s kept: the day is not rolled up", domain, day)
            day += dt.timedelta(days=1)


def run_pass(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: LoadedPolicy,
    now: dt.datetime | None = None,
) -> PassReport:
    """Roll up what is pending, then purge raw events past retention; return what was done."""
    now = now or utcnow()
    report = PassReport()
    roll_pending(factory, settings, now, report)
    purge(factory, policy, now, report)
    return report


async def run_forever(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: LoadedPolicy,
    *,
    first_delay: float | None = None,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """Run a pass every ``analytics_rollup_seconds`` in a thread, until cancelled.

    A failing pass is logged and retried at the next tick: the worker never stops serving.
    """
    interval = settings.analytics_rollup_seconds
    await asyncio.sleep(interval if first_delay is None else first_delay)
    while True:
        try:
            report = await asyncio.to_thread(run_pass, factory, settings, policy)
        except Exception:
            log.exception("analytics rollup pass failed")
        else:
            if on_pass is not None:
                on_pass(report)
        await asyncio.sleep(interval)

"""Keep rollups fresh and purge old raw events: one pass, or a loop (in-process or `avowal worker`).

A pass, for every site: roll up each pending day (today, yesterday until final, and any older
day with events never finally rolled up) unless no event reached it since its last rollup, one
transaction per day; then delete the raw events of
days older than the policy's ``analytics.raw_retention_days``, one transaction per site-day, and
only for days whose rollup is final (rollups stay; nothing else needs the raw events).

One record never stalls a pass: a day whose rollup fails has the events it cannot use set aside
(:mod:`avowal.analytics.quarantine`) and is rolled up again without them; whatever else fails
for one site or one day is logged, reported in ``PassReport.failed`` and retried at the next
pass, while every other site and day, and the purge, go on.

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

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import quarantine, rollup
from avowal.analytics.models import Event, RollupState, Site
from avowal.db.engine import transaction
from avowal.lib import clock
from avowal.lifecycle.holder import PolicySource, resolve
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings

log = logging.getLogger(__name__)


@dataclass
class PassReport:
    """What one pass did."""

    rolled: list[tuple[str, dt.date]] = field(default_factory=list)
    purged: list[tuple[str, dt.date, int]] = field(default_factory=list)
    # Events set aside because a rollup could not use them, per site-day.
    quarantined: list[tuple[str, dt.date, int]] = field(default_factory=list)
    # What failed and will be tried again: (site, day or None for the whole site, error class).
    failed: list[tuple[str, dt.date | None, str]] = field(default_factory=list)
    purged_quarantined: int = 0

    def fail(self, domain: str, day: dt.date | None, exc: BaseException, doing: str) -> None:
        """Record and log a failure (its class only: the message may quote stored values)."""
        self.failed.append((domain, day, type(exc).__name__))
        log.error(
            "analytics %s of %s%s failed: %s; the rest goes on",
            doing,
            domain,
            f" on {day}" if day is not None else "",
            type(exc).__name__,
        )

    @property
    def purged_events(self) -> int:
        """Return how many raw events the pass deleted."""
        return sum(count for _, _, count in self.purged)


def first_event_day(session: Session, site_id: int) -> dt.date | None:
    """Return the oldest day with raw events of a site (indexed)."""
    return session.scalar(select(func.min(Event.day)).where(Event.site_id == site_id))


def last_final_day(session: Session, site_id: int) -> dt.date | None:
    """Return the newest day of a site whose rollup is final."""
    return session.scalar(
        select(func.max(RollupState.day)).where(
            RollupState.site_id == site_id, RollupState.final.is_(True)
        )
    )


def pending_days(session: Session, site_id: int, today: dt.date) -> list[dt.date]:
    """Return the days of a site to roll up: from the first non-final day with events to today.

    Final days are never redone (their raw events may be purged): a day turns final when rolled
    up an hour after its end, so today and yesterday are redone until then.
    """
    last = last_final_day(session, site_id)
    first = first_event_day(session, site_id)
    if last is not None:
        start = last + dt.timedelta(days=1)
    elif first is not None:
        start = first
    else:
        return []
    if first is not None and last is not None and first > start:
        start = first
    finals = set(
        session.scalars(
            select(RollupState.day).where(
                RollupState.site_id == site_id,
                RollupState.final.is_(True),
                RollupState.day >= start,
            )
        )
    )
    count = (today - start).days + 1
    days = (start + dt.timedelta(days=i) for i in range(max(count, 0)))
    return [d for d in days if d not in finals]


def retention_cutoff(policy: LoadedPolicy, today: dt.date) -> dt.date:
    """Return the oldest day whose raw events are kept: older days are purged."""
    return today - dt.timedelta(days=policy.policy.analytics.raw_retention_days)


def _sites(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    with factory() as session:
        rows = session.execute(select(Site.id, Site.domain).order_by(Site.id))
        return [(r.id, r.domain) for r in rows]


# Events are committed a little after their time (the ingest batches them): a day whose last
# rollup began this long after its newest event cannot have gained any since.
SETTLED = dt.timedelta(minutes=5)


def unchanged_since_rollup(session: Session, site_id: int, day: dt.date, now: dt.datetime) -> bool:
    """Tell whether a day's last (non-final) rollup already holds every event it will get.

    True when no event of the day is newer than the last rollup's start minus ``SETTLED`` and the
    day is not due to turn final: yesterday is then not recomputed at every pass until 01:00.
    One indexed probe (site_id, ts).
    """
    state = session.get(RollupState, (site_id, day))
    if state is None or state.final or rollup.is_final(day, now):
        return False
    rolled = clock.aware(state.rolled_at)
    start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
    end = start + dt.timedelta(days=1)
    newer = session.scalar(
        select(Event.id)
        .where(
            Event.site_id == site_id,
            Event.ts >= max(rolled - SETTLED, start),
            Event.ts < end,
        )
        .limit(1)
    )
    return newer is None


def roll_pending(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime, report: PassReport
) -> None:
    """Roll up every pending day of every site that may have changed, one transaction per day."""
    for site_id, domain in _sites(factory):
        try:
            with factory() as session:
                days = [
                    day
                    for day in pending_days(session, site_id, now.date())
                    if not unchanged_since_rollup(session, site_id, day, now)
                ]
        except Exception as exc:
            report.fail(domain, None, exc, "rollup")
            continue
        for day in days:
            _roll_or_isolate(factory, settings, site_id, domain, day, now, report)


def _roll(
    factory: sessionmaker[Session], settings: Settings, site_id: int, day: dt.date, now: dt.datetime
) -> None:
    with transaction(factory) as session:
        rollup.roll_day(
            session, site_id, day, now=now, visit_minutes=settings.analytics_visit_minutes
        )


def _roll_or_isolate(
    factory: sessionmaker[Session],
    settings: Settings,
    site_id: int,
    domain: str,
    day: dt.date,
    now: dt.datetime,
    report: PassReport,
) -> None:
    """Roll up one day; if that fails, set aside the events at fault and roll up the rest."""
    try:
        _roll(factory, settings, site_id, day, now)
    except Exception as first:
        try:
            isolated = quarantine.isolate(factory, site_id, domain, day, now)
            if isolated:
                report.quarantined.append((domain, day, isolated))
                _roll(factory, settings, site_id, day, now)
            else:
                raise first
        except Exception as exc:
            report.fail(domain, day, exc, "rollup")
            return
    report.rolled.append((domain, day))


def purge(
    factory: sessionmaker[Session], policy: LoadedPolicy, now: dt.datetime, report: PassReport
) -> None:
    """Delete raw events of days before the retention cutoff whose rollups are final."""
    cutoff = retention_cutoff(policy, now.date())
    for site_id, domain in _sites(factory):
        try:
            with factory() as session:
                first = first_event_day(session, site_id)
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
        except Exception as exc:
            report.fail(domain, None, exc, "purge")
            continue
        day = first
        while day < cutoff:
            if day in finals:
                _purge_day(factory, site_id, domain, day, report)
            else:
                log.warning("raw events of %s on %s kept: the day is not rolled up", domain, day)
            day += dt.timedelta(days=1)
    try:
        with transaction(factory) as session:
            report.purged_quarantined = quarantine.purge(session, cutoff)
    except Exception as exc:
        report.fail("(quarantine)", None, exc, "purge")


def _purge_day(
    factory: sessionmaker[Session], site_id: int, domain: str, day: dt.date, report: PassReport
) -> None:
    try:
        with transaction(factory) as session:
            result = session.execute(
                delete(Event).where(Event.site_id == site_id, Event.day == day)
            )
            count = getattr(result, "rowcount", 0) or 0
    except Exception as exc:
        report.fail(domain, day, exc, "purge")
        return
    if count:
        report.purged.append((domain, day, count))


def run_pass(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: LoadedPolicy,
    now: dt.datetime | None = None,
) -> PassReport:
    """Roll up what is pending, then purge raw events past retention; return what was done."""
    now = now or clock.now()
    report = PassReport()
    roll_pending(factory, settings, now, report)
    purge(factory, policy, now, report)
    return report


async def run_forever(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: PolicySource,
    *,
    first_delay: float | None = None,
    on_pass: Callable[[PassReport], None] | None = None,
) -> None:
    """Run a pass every ``analytics_rollup_seconds`` in a thread, until cancelled.

    ``policy`` may be a holder's ``current``: each pass then purges by the retention of the
    version in effect. A failing pass is logged and retried at the next tick.
    """
    interval = settings.analytics_rollup_seconds
    await asyncio.sleep(interval if first_delay is None else first_delay)
    while True:
        try:
            report = await asyncio.to_thread(run_pass, factory, settings, resolve(policy))
        except Exception:
            log.exception("analytics rollup pass failed")
        else:
            if on_pass is not None:
                on_pass(report)
        await asyncio.sleep(interval)

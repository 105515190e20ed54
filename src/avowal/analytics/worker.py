"""Keep rollups fresh and purge old raw events: one pass, or a loop (in-process or `avowal worker`).

A pass, for every site: add the events that arrived since the last pass to the rollups, by
difference (:mod:`avowal.analytics.incremental`; a site's first pass recomputes its pending days
and marks how far its events are counted); then recompute whole, once, each day that is over (an
hour after its end) and mark it final; then delete the raw events of days older than the
policy's ``analytics.raw_retention_days``, one transaction per site-day, and only for days whose
rollup is final (rollups stay; nothing else needs the raw events).

One record never stalls a pass: a day whose rollup fails has the events it cannot use set aside
(:mod:`avowal.analytics.quarantine`) and is rolled up again without them; whatever else fails
for one site or one day is logged, reported in ``PassReport.failed`` and retried at the next
pass, while every other site and day, and the purge, go on.

With analytics kept in ClickHouse (``AVOWAL_ANALYTICS_URL``), a pass instead stores, for each
day that is over, its visits (``analytics_visits``) and its figures as a final rollup, both
computed by ClickHouse (:func:`roll_clickhouse`), then drops the days past retention
(:func:`purge_clickhouse`) and purges what a migration left in the database.

Embedded (SQLite, chdb) servers run the loop inside the application; with PostgreSQL and several
server processes, each process may run it too: a PostgreSQL advisory lock per site makes
concurrent passes wait for each other, and the second reads the mark the first left.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import archive, incremental, quarantine, query, rollup
from avowal.analytics.clickhouse import events as clickhouse_events
from avowal.analytics.clickhouse.events import ClickHouseEvents
from avowal.analytics.clickhouse.reader import ClickHouseReader
from avowal.analytics.models import Event, RollupState, Site
from avowal.db.engine import transaction
from avowal.lib import clock
from avowal.lifecycle.holder import PolicySource, resolve
from avowal.ops import jobs
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
    # Site-days archived under recently used filters (avowal.analytics.archive).
    archived: list[tuple[str, dt.date]] = field(default_factory=list)

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


def retention_cutoff(policy: LoadedPolicy, today: dt.date) -> dt.date:
    """Return the oldest day whose raw events are kept: older days are purged."""
    return query.first_kept_day(today, policy.policy.analytics.raw_retention_days)


def _sites(factory: sessionmaker[Session]) -> list[tuple[int, str]]:
    with factory() as session:
        rows = session.execute(select(Site.id, Site.domain).order_by(Site.id))
        return [(r.id, r.domain) for r in rows]


# The most events one pass adds per site (then the next pass goes on): a pass stays bounded.
MAX_STEPS = 50


def roll_pending(
    factory: sessionmaker[Session], settings: Settings, now: dt.datetime, report: PassReport
) -> None:
    """Bring every site's rollups up to date, then make final the days that are over.

    Marks move no further than an event id through which every event is committed (see
    :mod:`avowal.analytics.incremental`); when ingest transactions stay in flight too long, this
    pass only makes days final.
    """
    upto: int | None
    try:
        with factory() as session:
            upto = incremental.committed_through(session)
            session.commit()  # ends the lock's transaction at once
    except incremental.IngestBusy:
        log.warning("ingest transactions stayed in flight: rollup marks move at the next pass")
        upto = None
    for site_id, domain in _sites(factory):
        try:
            with factory() as session:
                through = incremental.mark_of(session, site_id)
        except Exception as exc:
            report.fail(domain, None, exc, "rollup")
            continue
        if upto is not None:
            if through is None:
                _start_marking(factory, settings, site_id, domain, now, report, upto)
            else:
                _advance(factory, settings, site_id, domain, now, report, upto)
        _finalise(factory, settings, site_id, domain, now, report)


def _start_marking(
    factory: sessionmaker[Session],
    settings: Settings,
    site_id: int,
    domain: str,
    now: dt.datetime,
    report: PassReport,
    upto: int,
) -> None:
    """A site's first pass (or the first since rollups became incremental): in one transaction,
    recompute its pending days from the events up to the newest (committed through ``upto``) and
    mark that one."""
    days: list[dt.date] = []
    for attempt in range(2):
        try:
            with transaction(factory) as session:
                rollup.site_lock(session, site_id)
                if incremental.mark_of(session, site_id) is not None:
                    return  # another process did it meanwhile
                through = session.scalar(
                    select(func.max(Event.id)).where(Event.site_id == site_id, Event.id <= upto)
                )
                # After a retry, also the days whose only events were set aside (now empty).
                days = sorted(
                    set(days) | set(incremental.pending_days(session, site_id, now.date()))
                )
                for day in days:
                    rollup.roll_day(
                        session,
                        site_id,
                        day,
                        now=now,
                        visit_minutes=settings.analytics_visit_minutes,
                        through=through or 0,
                    )
                incremental.set_mark(session, site_id, through or 0, now)
        except Exception as exc:
            if attempt or not _isolate(factory, site_id, domain, now, report, after=None):
                report.fail(domain, None, exc, "rollup")
                return
            continue
        report.rolled.extend((domain, day) for day in days)
        return


def _advance(
    factory: sessionmaker[Session],
    settings: Settings,
    site_id: int,
    domain: str,
    now: dt.datetime,
    report: PassReport,
    upto: int,
) -> None:
    """Add the events past the site's mark (up to id ``upto``), a step (one transaction) at a
    time."""
    rolled: set[dt.date] = set()
    isolated = False
    for _ in range(MAX_STEPS):
        try:
            with transaction(factory) as session:
                days = incremental.advance(
                    session,
                    site_id,
                    now=now,
                    visit_minutes=settings.analytics_visit_minutes,
                    upto=upto,
                )
        except Exception as exc:
            if isolated or not _isolate(factory, site_id, domain, now, report, after=0):
                report.fail(domain, None, exc, "rollup")
                break
            isolated = True
            continue
        if days is None:
            break
        rolled.update(days)
    report.rolled.extend((domain, day) for day in sorted(rolled))


def _isolate(
    factory: sessionmaker[Session],
    site_id: int,
    domain: str,
    now: dt.datetime,
    report: PassReport,
    *,
    after: int | None,
) -> bool:
    """Set aside the events a rollup cannot use, on the days with events past the mark (every
    day with events when ``after`` is None); tell whether any were."""
    with factory() as session:
        stmt = select(Event.day).where(Event.site_id == site_id).distinct()
        if after is not None:
            stmt = stmt.where(Event.id > (incremental.mark_of(session, site_id) or after))
        days = session.scalars(stmt).all()
    found = False
    for day in sorted(days):
        count = quarantine.isolate(factory, site_id, domain, day, now)
        if count:
            report.quarantined.append((domain, day, count))
            found = True
    return found


def _finalise(
    factory: sessionmaker[Session],
    settings: Settings,
    site_id: int,
    domain: str,
    now: dt.datetime,
    report: PassReport,
) -> None:
    """Recompute whole, once, each day that is over (an hour after its end), and mark it final:
    the reconciliation of whatever the increments missed (see avowal.analytics.incremental)."""
    try:
        with factory() as session:
            through = incremental.mark_of(session, site_id)
            open_days = session.scalars(
                select(RollupState.day).where(
                    RollupState.site_id == site_id, RollupState.final.is_(False)
                )
            ).all()
    except Exception as exc:
        report.fail(domain, None, exc, "rollup")
        return
    if through is None:
        return
    for day in sorted(open_days):
        if rollup.is_final(day, now):
            _roll_or_isolate(factory, settings, site_id, domain, day, now, report)


def redo_day(
    factory: sessionmaker[Session], settings: Settings, site_id: int, day: dt.date, now: dt.datetime
) -> None:
    """Recompute a site-day's rollups from its raw events (in ClickHouse, if kept there)."""
    clickhouse = clickhouse_events.of(settings)
    if clickhouse is not None:
        _store_clickhouse_day(factory, settings, clickhouse, site_id, day, now)
        return
    with transaction(factory) as session:
        # The mark is read under the site's lock: no step can move it while the day is redone.
        rollup.site_lock(session, site_id)
        through = incremental.mark_of(session, site_id)  # None: not marked yet, every event
        archive.forget_day(session, site_id, day)  # its filters' figures are archived anew
        rollup.roll_day(
            session,
            site_id,
            day,
            now=now,
            visit_minutes=settings.analytics_visit_minutes,
            through=through,
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
    """Recompute one day; if that fails, set aside the events at fault and recompute the rest."""
    try:
        redo_day(factory, settings, site_id, day, now)
    except Exception as first:
        try:
            isolated = quarantine.isolate(factory, site_id, domain, day, now)
            if isolated:
                report.quarantined.append((domain, day, isolated))
                redo_day(factory, settings, site_id, day, now)
            else:
                raise first
        except Exception as exc:
            report.fail(domain, day, exc, "rollup")
            return
    if (domain, day) not in report.rolled:
        report.rolled.append((domain, day))


def purge(
    factory: sessionmaker[Session], policy: LoadedPolicy, now: dt.datetime, report: PassReport
) -> None:
    """Delete raw events of days before the retention cutoff whose rollups are final."""
    cutoff = retention_cutoff(policy, now.date())
    for site_id, domain in _sites(factory):
        try:
            with factory() as session:
                first = incremental.first_event_day(session, site_id)
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


ALL_SITES = "(all sites)"
# Final days a pass rolls up from ClickHouse per site (then the next pass goes on).
CLICKHOUSE_DAYS_PER_PASS = 31


def roll_clickhouse(
    factory: sessionmaker[Session],
    settings: Settings,
    clickhouse: ClickHouseEvents,
    now: dt.datetime,
    report: PassReport,
) -> None:
    """Store the figures of each day that is over and not rolled up yet, computed in ClickHouse,
    as the day's final rollup: the dashboard reads them once the day's raw events are dropped
    (the relational store keeps its rollups the same way)."""
    for site_id, domain in _sites(factory):
        try:
            with factory() as session:
                rolled = set(
                    session.scalars(
                        select(RollupState.day).where(
                            RollupState.site_id == site_id, RollupState.final.is_(True)
                        )
                    )
                )
            kept = clickhouse.days(site_id=site_id)
            days = [day for day in kept if day not in rolled and rollup.is_final(day, now)][
                :CLICKHOUSE_DAYS_PER_PASS
            ]
            # Days rolled up for good before their visits were kept (or with another gap):
            # their visits are made now, so that every day that is over has them.
            stored = set(
                clickhouse_events.stored_visit_days(
                    clickhouse.client(),
                    site_id,
                    kept[0] if kept else now.date(),
                    kept[-1] if kept else now.date(),
                    visit_minutes=settings.analytics_visit_minutes,
                )
            )
            unstored = [day for day in kept if day in rolled and day not in stored]
        except Exception as exc:
            report.fail(domain, None, exc, "rollup")
            continue
        for day in unstored[:CLICKHOUSE_DAYS_PER_PASS]:
            try:
                clickhouse.store_visits(
                    site_id, day, visit_minutes=settings.analytics_visit_minutes
                )
            except Exception as exc:
                report.fail(domain, day, exc, "rollup")
        for day in days:
            try:
                _store_clickhouse_day(factory, settings, clickhouse, site_id, day, now)
            except Exception as exc:
                report.fail(domain, day, exc, "rollup")
                continue
            report.rolled.append((domain, day))


def _store_clickhouse_day(
    factory: sessionmaker[Session],
    settings: Settings,
    clickhouse: ClickHouseEvents,
    site_id: int,
    day: dt.date,
    now: dt.datetime,
) -> None:
    """Store a site-day's figures computed in ClickHouse as its rollup (final once over); a
    day that is over has its visits (re)made in ``analytics_visits`` first, and its figures are
    computed from them."""
    final = rollup.is_final(day, now)
    minutes = settings.analytics_visit_minutes
    if final:
        clickhouse.store_visits(site_id, day, visit_minutes=minutes)
    reader = ClickHouseReader(clickhouse.client(), site_id, visit_minutes=minutes)
    figures = reader.figures([day])[day]
    with transaction(factory) as session:
        rollup.store_day(session, site_id, day, figures, now=now, final=final)


def purge_clickhouse(
    clickhouse: ClickHouseEvents, policy: LoadedPolicy, now: dt.datetime, report: PassReport
) -> None:
    """Drop the ClickHouse days past the retention cutoff (the TTL would, at its next merge)."""
    try:
        for day, count in clickhouse.purge_before(retention_cutoff(policy, now.date())):
            report.purged.append((ALL_SITES, day, count))
        # The version in effect decides the retention: its TTL too.
        clickhouse.set_retention(policy.policy.analytics.raw_retention_days)
    except Exception as exc:
        report.fail(ALL_SITES, None, exc, "purge")


def embedded(settings: Settings, dialect: str) -> bool:
    """Tell whether the set-up is embedded, so that the server itself does the worker's work:
    SQLite and chdb, whose files no `avowal worker` process could open beside the server.
    Otherwise (PostgreSQL) `avowal worker` runs apart."""
    clickhouse = clickhouse_events.of(settings)
    return dialect == "sqlite" or (clickhouse is not None and clickhouse.target.embedded)


def runs_in_server(settings: Settings, dialect: str) -> bool:
    """Tell whether a server runs the worker's loop itself: embedded set-ups do; never in the
    test mode, whose apps are many and short-lived."""
    return settings.env != "test" and embedded(settings, dialect)


def run_pass(
    factory: sessionmaker[Session],
    settings: Settings,
    policy: LoadedPolicy,
    now: dt.datetime | None = None,
) -> PassReport:
    """Roll up what is pending, archive used filters' final days, then purge raw events past
    retention; return what was done."""
    now = now or clock.now()
    report = PassReport()
    clickhouse = clickhouse_events.of(settings)
    if clickhouse is not None:
        # Figures are read from ClickHouse's raw events; only the days that are over are rolled
        # up, for the time after their raw events are gone. Filters need no archive.
        roll_clickhouse(factory, settings, clickhouse, now, report)
        purge_clickhouse(clickhouse, policy, now, report)
        # Raw events left in the database by a migration go at the end of their retention.
        purge(factory, policy, now, report)
        return report
    roll_pending(factory, settings, now, report)
    archive.run(
        factory, settings, retention_cutoff(policy, now.date()), now, report, dict(_sites(factory))
    )
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
    """Run a pass every ``analytics_rollup_seconds`` in a thread, until cancelled, keeping the
    job's heartbeat (:mod:`avowal.ops.jobs`).

    ``policy`` may be a holder's ``current``: each pass then purges by the retention of the
    version in effect. A failing pass is logged and retried at the next tick; a pass that could
    not roll up or purge some site counts as failed.
    """
    await jobs.run_forever(
        jobs.ANALYTICS,
        factory,
        settings,
        lambda: run_pass(factory, settings, resolve(policy)),
        first_delay=first_delay,
        on_pass=on_pass,
        failed=lambda report: bool(report.failed),
    )

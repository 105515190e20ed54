"""Archived filters: the figures of recently used filters, kept per final day like rollups.

A filtered view is computed from raw events (:func:`avowal.analytics.rollup.compute_day` with
the filters), at a cost that grows with the site's traffic. But people come back to the same
filters (a campaign's source, a country, a goal), and a Stats API client polls the same query.
So each filtered read notes its filters (:func:`note_use`, at most once an hour per site and
filters); every worker pass then archives, for each filter used in the last
:data:`KEEP_UNUSED`, the figures of each final day not archived yet, computed by the same code
(:func:`archive_pass`, a bounded number of site-days per pass); and a filtered read takes the
archived days from ``analytics_archived`` with one SQL aggregation, computing only the others
(today, and days not archived yet) from raw events (:class:`avowal.analytics.readers.RawReader`).

A final day only changes when a late event reaches it or it is recomputed: both forget its
archived figures (:func:`forget_day`), which the next passes archive again. Filters unused for
:data:`KEEP_UNUSED` are forgotten with their figures. Archived figures are figures of rollups
(no visitor, no event); they are kept like rollups.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import logging
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Protocol, cast

from sqlalchemy import Engine, Table, delete, insert, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics.filters import VisitFilter
from avowal.analytics.models import ArchivedDay, ArchivedRollup, FilterUse, RollupState
from avowal.analytics.rollup import DayFigures, compute_day, site_lock
from avowal.db.engine import READ_ONLY, transaction
from avowal.db.upsert import dialect_insert
from avowal.settings import Settings

log = logging.getLogger(__name__)

KEEP_UNUSED = dt.timedelta(days=30)
NOTE_EVERY = dt.timedelta(hours=1)
# Site-days archived per worker pass: a pass stays short; the next one goes on.
DAYS_PER_PASS = 30
_ARCHIVED = cast(Table, ArchivedRollup.__table__)


def text_of(f: VisitFilter) -> str:
    """Return a filter as the dashboard writes it: ``kind:value`` or ``kind!:value``."""
    return f"{f.kind}{'!' if f.negated else ''}:{f.value}"


def key_of(filters: Sequence[VisitFilter]) -> str:
    """Return the canonical key of a set of filters (their order does not matter)."""
    return "\n".join(sorted({text_of(f) for f in filters}))


def filters_of(key: str) -> tuple[VisitFilter, ...]:
    """Return the filters of a key made by :func:`key_of`."""
    found = []
    for line in key.split("\n"):
        kind, _, value = line.partition(":")
        negated = kind.endswith("!")
        found.append(VisitFilter(kind.rstrip("!"), value, negated))
    return tuple(found)


def filter_id(filters: Sequence[VisitFilter]) -> str:
    """Return the short digest identifying a set of filters in the archive."""
    return hashlib.sha256(key_of(filters).encode("utf-8", "surrogatepass")).hexdigest()[:32]


def note_use(
    session: Session, site_id: int, filters: Sequence[VisitFilter], now: dt.datetime
) -> None:
    """Record that ``filters`` were read now (in the caller's transaction; skipped when noted
    within the last :data:`NOTE_EVERY`)."""
    ident = filter_id(filters)
    last = session.scalar(
        select(FilterUse.last_used_at).where(
            FilterUse.site_id == site_id, FilterUse.filter_id == ident
        )
    )
    if last is not None and now - _aware(last) < NOTE_EVERY:
        return
    upsert = dialect_insert(session, FilterUse).values(
        site_id=site_id, filter_id=ident, key=key_of(filters), last_used_at=now
    )
    session.execute(
        upsert.on_conflict_do_update(
            index_elements=[FilterUse.site_id, FilterUse.filter_id],
            set_={"last_used_at": upsert.excluded.last_used_at},
        )
    )


def note_use_in_read(
    session: Session, site_id: int, filters: Sequence[VisitFilter], now: dt.datetime
) -> None:
    """Record a filtered read from a request (see :func:`_writing`).

    A failure (the database busy past its timeout) is logged and costs the read nothing: the
    filters are noted at their next use.
    """
    try:
        with _writing(session) as apart:
            note_use(apart, site_id, filters, now)
    except Exception as exc:  # the read goes on; only the archive waits
        log.warning("noting a filtered read failed: %s", type(exc).__name__)


@contextmanager
def _writing(session: Session) -> Iterator[Session]:
    """Open a transaction that writes archive bookkeeping during a read: a savepoint of the
    caller's own transaction when it may write (a console page), else a transaction of its own
    on another connection (an API read's session is read-only)."""
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if not engine.get_execution_options().get(READ_ONLY, False):
        with session.begin_nested():
            yield session
        return
    with engine.connect() as connection:
        writable = {READ_ONLY: False, "postgresql_readonly": False}
        with Session(connection.execution_options(**writable)) as apart, apart.begin():
            yield apart


def _aware(at: dt.datetime) -> dt.datetime:
    return at if at.tzinfo is not None else at.replace(tzinfo=dt.UTC)


def archived_days(
    session: Session, site_id: int, ident: str, days: Sequence[dt.date]
) -> set[dt.date]:
    """Return which of ``days`` have archived figures under the filters ``ident``."""
    if not days:
        return set()
    return set(
        session.scalars(
            select(ArchivedDay.day).where(
                ArchivedDay.site_id == site_id,
                ArchivedDay.filter_id == ident,
                ArchivedDay.day.in_(list(days)),
            )
        )
    )


def store(
    session: Session,
    site_id: int,
    filters: Sequence[VisitFilter],
    day: dt.date,
    *,
    now: dt.datetime,
    visit_minutes: int,
) -> int:
    """Compute and archive one final day's figures under ``filters``; return the rows kept."""
    figures = compute_day(session, site_id, day, visit_minutes=visit_minutes, filters=filters)
    return _write(session, site_id, filter_id(filters), day, figures, now)


def _write(
    session: Session, site_id: int, ident: str, day: dt.date, figures: DayFigures, now: dt.datetime
) -> int:
    session.execute(
        delete(ArchivedRollup).where(
            ArchivedRollup.site_id == site_id,
            ArchivedRollup.filter_id == ident,
            ArchivedRollup.day == day,
        )
    )
    rows = [
        {
            "site_id": site_id,
            "filter_id": ident,
            "day": day,
            "dimension": dim,
            "value": value,
            **t.as_dict(),
        }
        for (dim, value), t in figures.daily.items()
    ]
    if rows:
        session.execute(insert(_ARCHIVED), rows)
    session.merge(ArchivedDay(site_id=site_id, filter_id=ident, day=day, archived_at=now))
    return len(rows)


def final_days(session: Session, site_id: int, days: Sequence[dt.date]) -> dict[dt.date, object]:
    """Return the final days among ``days``, each with its last rollup time (its version)."""
    rows = session.execute(
        select(RollupState.day, RollupState.rolled_at).where(
            RollupState.site_id == site_id,
            RollupState.final.is_(True),
            RollupState.day.in_(list(days)),
        )
    )
    return {row.day: row.rolled_at for row in rows}


def keep(
    session: Session,
    site_id: int,
    filters: Sequence[VisitFilter],
    day: dt.date,
    figures: DayFigures,
    *,
    seen: object,
    now: dt.datetime,
) -> None:
    """Archive a final day a read has just computed from raw events (see :func:`_writing`), so
    the next read of these filters finds it (an interrupted first read keeps its progress).

    Written only if the day is still as the read saw it (final, not rolled up since: ``seen``
    is its last rollup time then); a failure is logged and costs the read nothing.
    """
    try:
        with _writing(session) as apart:
            site_lock(apart, site_id)
            state = apart.get(RollupState, (site_id, day))
            if state is None or not state.final or state.rolled_at != seen:
                return
            _write(apart, site_id, filter_id(filters), day, figures, now)
    except Exception as exc:  # the read goes on; the worker archives the day later
        log.warning("archiving a filtered day read failed: %s", type(exc).__name__)


def forget_day(session: Session, site_id: int, day: dt.date) -> None:
    """Forget every archived figure of a site-day (it changed): the next passes redo them."""
    for model in (ArchivedRollup, ArchivedDay):
        session.execute(delete(model).where(model.site_id == site_id, model.day == day))


def due(
    session: Session, now: dt.datetime, oldest: dt.date, limit: int | None = None
) -> list[tuple[int, str, dt.date]]:
    """Return up to ``limit`` (site, filters key, day) to archive: final days from ``oldest`` on
    (raw events are kept from there) of recently used filters, not archived yet, newest first."""
    uses = session.execute(
        select(FilterUse.site_id, FilterUse.filter_id, FilterUse.key).where(
            FilterUse.last_used_at >= now - KEEP_UNUSED
        )
    ).all()
    limit = DAYS_PER_PASS if limit is None else limit
    found: list[tuple[int, str, dt.date]] = []
    for site_id, ident, key in uses:
        finals = session.scalars(
            select(RollupState.day)
            .where(
                RollupState.site_id == site_id,
                RollupState.final.is_(True),
                RollupState.day >= oldest,
            )
            .order_by(RollupState.day.desc())
        ).all()
        done = archived_days(session, site_id, ident, finals)
        found += [(site_id, key, day) for day in finals if day not in done]
        if len(found) >= limit:
            break
    return found[:limit]


def evict(session: Session, now: dt.datetime) -> int:
    """Forget the filters unused for :data:`KEEP_UNUSED` and their figures; return how many."""
    stale = session.execute(
        select(FilterUse.site_id, FilterUse.filter_id).where(
            FilterUse.last_used_at < now - KEEP_UNUSED
        )
    ).all()
    for site_id, ident in stale:
        for model in (ArchivedRollup, ArchivedDay, FilterUse):
            session.execute(delete(model).where(model.site_id == site_id, model.filter_id == ident))
    return len(stale)


class Report(Protocol):
    """Where a pass records what it archived and what failed (the worker's PassReport)."""

    archived: list[tuple[str, dt.date]]

    def fail(self, domain: str, day: dt.date | None, exc: BaseException, doing: str) -> None:
        """Record and log a failure."""


def run(
    factory: sessionmaker[Session],
    settings: Settings,
    oldest: dt.date,
    now: dt.datetime,
    report: Report,
    domains: dict[int, str],
) -> None:
    """Archive the figures of recently used filters for final days from ``oldest`` on (a bounded
    number per pass), one transaction each; forget the filters unused for a while."""
    try:
        with transaction(factory) as session:
            evict(session, now)
        with factory() as session:
            todo = due(session, now, oldest)
    except Exception as exc:
        report.fail("(archive)", None, exc, "archive")
        return
    for site_id, key, day in todo:
        domain = domains.get(site_id, str(site_id))
        try:
            with transaction(factory) as session:
                site_lock(session, site_id)
                store(
                    session,
                    site_id,
                    filters_of(key),
                    day,
                    now=now,
                    visit_minutes=settings.analytics_visit_minutes,
                )
        except Exception as exc:
            report.fail(domain, day, exc, "archive")
            continue
        report.archived.append((domain, day))

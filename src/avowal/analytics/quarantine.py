"""Set aside stored events the worker cannot read or roll up, so that one never stalls the rest.

The ingest cleans what it stores, but a row may still reach ``analytics_events`` some other way
(an import, a restore, a bug, a disk): bytes that are not UTF-8, a JSON escape of a lone
surrogate, a value too long for the rollup tables. When a day's rollup fails, its events are read
again in chunks, halving a chunk that cannot be read down to the single row, and each row is
checked against what a rollup needs. The rows at fault move to ``analytics_quarantine`` (what
could be read of them, cleaned; never the visitor hash) and the day is rolled up without them.
Quarantined rows are purged with the raw events of their day; the review shows how many there
are and, for a few, the site, day, field and reason, never a value.
"""

from __future__ import annotations

import datetime as dt
import logging
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, cast

from sqlalchemy import Column, String, Table, delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics.models import Event, QuarantinedEvent, Site
from avowal.db.engine import transaction
from avowal.lib import clock, text

log = logging.getLogger(__name__)

ROLLUP = "rollup"
EXAMPLES = 10
# Read this many events at a time while looking for the bad ones.
PROBE_CHUNK = 1000
# At most this many rows are set aside per site-day and pass: a failure that is not in the rows
# (a database going away) must not move a whole day aside. The next pass finds any others.
MAX_PER_PASS = 500
_EVENTS = cast(Table, Event.__table__)
# Everything but the visitor hash, which is never kept aside.
KEPT: tuple[Column[Any], ...] = tuple(c for c in _EVENTS.columns if c.name != "visitor")
_TEXT = tuple(c.name for c in _EVENTS.columns if isinstance(c.type, String))
_LIMITS = {c.name: getattr(c.type, "length", None) for c in _EVENTS.columns}


@dataclass(frozen=True)
class Fault:
    """One stored event a rollup cannot use: which column, why, and what could be read of it."""

    event_id: int
    field: str | None
    reason: str
    record: dict[str, Any] | None


@dataclass(frozen=True)
class Example:
    """A quarantined event as the review shows it: where and why, no value."""

    site: str
    day: dt.date
    stage: str
    field: str | None
    reason: str
    quarantined_at: dt.datetime


@dataclass(frozen=True)
class Summary:
    """How many events are set aside, by site, and the newest few."""

    total: int
    by_site: dict[str, int]
    examples: list[Example]


def problem_of(row: Any) -> tuple[str, str] | None:
    """Name the field of a read event that a rollup cannot use, and why (quoting no value)."""
    for name in _TEXT:
        value = row[name]
        if value is None:
            continue
        if not isinstance(value, str):
            return name, "not text"
        if text.first_bad(value) is not None:
            return name, "holds a character that cannot be stored"
        limit = _LIMITS.get(name)
        if limit is not None and len(value) > limit:
            return name, f"longer than {limit} characters"
    if not isinstance(row["ts"], dt.datetime):
        return "ts", "not a time"
    if not isinstance(row["visitor"], int):
        return "visitor", "not a number"
    props = row["props"]
    if props is None:
        return None
    if not isinstance(props, dict):
        return "props", "not an object"
    for key, value in props.items():
        if not isinstance(key, str) or not isinstance(value, str):
            return "props", "a property is not text"
        if text.first_bad(key) is not None or text.first_bad(value) is not None:
            return "props", "holds a character that cannot be stored"
    return None


def _cleaned(value: Any) -> Any:
    if isinstance(value, str):
        return text.clean(value)
    if isinstance(value, dict):
        return {text.clean(str(k)): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    if isinstance(value, dt.datetime | dt.date):
        return value.isoformat()
    if value is None or isinstance(value, bool | int | float):
        return value
    return type(value).__name__


def _record(row: Any) -> dict[str, Any]:
    return {c.name: _cleaned(row[c.name]) for c in KEPT if c.name in row}


def _read(
    factory: sessionmaker[Session], site_id: int, day: dt.date, first: int, last: int
) -> list[Any]:
    with factory() as session:
        stmt = (
            select(*KEPT, Event.visitor)
            .where(Event.site_id == site_id, Event.day == day, Event.id.between(first, last))
            .order_by(Event.id)
        )
        return list(session.execute(stmt).mappings())


def _unreadable(factory: sessionmaker[Session], event_id: int, exc: Exception) -> Fault:
    """Find which columns of one event cannot be read; keep the others."""
    record: dict[str, Any] = {}
    field = None
    for column in (*KEPT, _EVENTS.c.visitor):
        try:
            with factory() as session:
                value = session.execute(select(column).where(Event.id == event_id)).scalar()
        except Exception:
            field = field or column.name
            continue
        if column.name != "visitor":
            record[column.name] = _cleaned(value)
    return Fault(event_id, field, f"cannot be read ({type(exc).__name__})", record)


def _probe(
    factory: sessionmaker[Session],
    site_id: int,
    day: dt.date,
    ids: Sequence[int],
    faults: list[Fault],
) -> None:
    for start in range(0, len(ids), PROBE_CHUNK):
        if len(faults) >= MAX_PER_PASS:
            return
        chunk = ids[start : start + PROBE_CHUNK]
        try:
            rows = _read(factory, site_id, day, chunk[0], chunk[-1])
        except Exception as exc:
            if len(chunk) == 1:
                faults.append(_unreadable(factory, chunk[0], exc))
                continue
            half = len(chunk) // 2
            _probe(factory, site_id, day, chunk[:half], faults)
            _probe(factory, site_id, day, chunk[half:], faults)
            continue
        for row in rows:
            found = problem_of(row)
            if found is not None:
                faults.append(Fault(row["id"], found[0], found[1], _record(row)))


def find_faults(factory: sessionmaker[Session], site_id: int, day: dt.date) -> list[Fault]:
    """Return the events of a site-day that cannot be read or rolled up (at most MAX_PER_PASS)."""
    with factory() as session:
        ids = list(
            session.scalars(
                select(Event.id)
                .where(Event.site_id == site_id, Event.day == day)
                .order_by(Event.id)
            )
        )
    faults: list[Fault] = []
    _probe(factory, site_id, day, ids, faults)
    return faults[:MAX_PER_PASS]


def set_aside(
    session: Session,
    site_id: int,
    day: dt.date,
    faults: Sequence[Fault],
    *,
    stage: str,
    now: dt.datetime,
) -> None:
    """Move ``faults`` from the raw events to the quarantine, in the open transaction."""
    if not faults:
        return
    session.execute(
        insert(QuarantinedEvent),
        [
            {
                "site_id": site_id,
                "day": day,
                "event_id": f.event_id,
                "stage": stage,
                "field": f.field,
                "reason": f.reason[:200],
                "record": f.record,
                "quarantined_at": now,
            }
            for f in faults
        ],
    )
    session.execute(delete(Event).where(Event.id.in_([f.event_id for f in faults])))


def isolate(
    factory: sessionmaker[Session], site_id: int, domain: str, day: dt.date, now: dt.datetime
) -> int:
    """Set aside the events of a site-day a rollup cannot use; return how many."""
    faults = find_faults(factory, site_id, day)
    if faults:
        with transaction(factory) as session:
            set_aside(session, site_id, day, faults, stage=ROLLUP, now=now)
        reasons = Counter(f"{f.field or 'row'}: {f.reason}" for f in faults)
        # Ids, fields and reasons only: what the rows hold is not logged.
        log.warning(
            "analytics: %d event(s) of %s on %s set aside (%s)",
            len(faults),
            domain,
            day,
            "; ".join(f"{n} x {r}" for r, n in sorted(reasons.items())),
        )
    return len(faults)


def purge(session: Session, before: dt.date) -> int:
    """Delete the quarantined events of days before ``before``, like their raw events."""
    result = session.execute(delete(QuarantinedEvent).where(QuarantinedEvent.day < before))
    return int(getattr(result, "rowcount", 0) or 0)


def summary(session: Session, since: dt.date | None = None) -> Summary:
    """Count the quarantined events (set aside since ``since``) by site, with the newest few."""
    where = []
    if since is not None:
        start = dt.datetime.combine(since, dt.time(), tzinfo=dt.UTC)
        where.append(QuarantinedEvent.quarantined_at >= start)
    counts = session.execute(
        select(Site.domain, func.count())
        .select_from(QuarantinedEvent)
        .join(Site, Site.id == QuarantinedEvent.site_id)
        .where(*where)
        .group_by(Site.domain)
        .order_by(Site.domain)
    )
    by_site = {str(domain): int(n) for domain, n in counts}
    newest = session.execute(
        select(
            Site.domain,
            QuarantinedEvent.day,
            QuarantinedEvent.stage,
            QuarantinedEvent.field,
            QuarantinedEvent.reason,
            QuarantinedEvent.quarantined_at,
        )
        .select_from(QuarantinedEvent)
        .join(Site, Site.id == QuarantinedEvent.site_id)
        .where(*where)
        .order_by(QuarantinedEvent.quarantined_at.desc(), QuarantinedEvent.id.desc())
        .limit(EXAMPLES)
    )
    examples = [
        Example(
            site=r.domain,
            day=r.day,
            stage=r.stage,
            field=r.field,
            reason=r.reason,
            quarantined_at=clock.aware(r.quarantined_at),
        )
        for r in newest
    ]
    return Summary(total=sum(by_site.values()), by_site=by_site, examples=examples)

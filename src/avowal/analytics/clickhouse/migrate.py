"""Move a site's analytics from the database to ClickHouse: ``avowal analytics migrate``.

The raw events are read in id order (their arrival order) in chunks and inserted as they are,
so ClickHouse orders the events of one instant as the database did. Then each site-day's count
in ClickHouse is checked against the database's; only then, if asked, are the database's copies
deleted. Rollups stay in the database: the days past the raw retention keep their figures, and
the ClickHouse reader reads them there (:class:`avowal.analytics.clickhouse.reader.
ClickHouseReader`).

Refused when ClickHouse already holds events: a second run would count them twice.
"""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import delete, func, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics.clickhouse import connection, schema
from avowal.analytics.clickhouse.events import ClickHouseEvents
from avowal.analytics.models import Event
from avowal.lib.errors import AvowalError

CHUNK = 20_000
parse = connection.parse


class MigrationRefused(AvowalError):
    """The events cannot be copied (ClickHouse unreachable, not empty, or a count differs)."""

    status_code = 409
    error = "migration_refused"


@dataclass
class Copied:
    """What a migration did."""

    events: int = 0
    sites: int = 0
    site_days: int = 0
    deleted: int = 0


def _counts_in_database(session: Session) -> Counter[tuple[int, dt.date]]:
    rows = session.execute(
        select(Event.site_id, Event.day, func.count()).group_by(Event.site_id, Event.day)
    )
    return Counter({(int(site), day): int(n) for site, day, n in rows})


def _counts_in_clickhouse(target: ClickHouseEvents) -> Counter[tuple[int, dt.date]]:
    rows = target.client().query(
        f"SELECT site_id, day, count() FROM {schema.TABLE} GROUP BY site_id, day"
    )
    return Counter({(int(site), day): int(n) for site, day, n in rows.result_rows})


def copy(
    sessions: sessionmaker[Session],
    target: ClickHouseEvents,
    retention_days: int,
    *,
    delete_source: bool = False,
    progress: Callable[[int], None] | None = None,
) -> Copied:
    """Copy every raw event into ``target``, check the counts, delete the source if asked."""
    where = target.target.describe()
    try:
        target.upgrade(retention_days)
        already = target.count()
    except Exception as exc:
        raise MigrationRefused(
            f"ClickHouse at {where} is not usable: {type(exc).__name__}: {str(exc)[:300]}"
        ) from None
    if already:
        raise MigrationRefused(
            f"ClickHouse at {where} already holds {already} events: migrate into an empty "
            "database (copying again would count them twice)"
        )
    copied = Copied()
    columns = [getattr(Event, name) for name in schema.COLUMNS]
    props = schema.COLUMNS.index("props")
    with sessions() as session:
        expected = _counts_in_database(session)
        last = 0
        while True:
            rows = session.execute(
                select(Event.id, *columns).where(Event.id > last).order_by(Event.id).limit(CHUNK)
            ).all()
            if not rows:
                break
            values: list[list[Any]] = []
            for row in rows:
                value = list(row[1:])
                value[props] = value[props] or {}
                values.append(value)
            target.insert(values)
            last = rows[-1][0]
            copied.events += len(rows)
            if progress is not None:
                progress(copied.events)
    found = _counts_in_clickhouse(target)
    if found != expected:
        wrong = sorted(k for k in expected.keys() | found.keys() if expected[k] != found[k])
        site, day = wrong[0]
        raise MigrationRefused(
            f"ClickHouse holds {found[(site, day)]} events of site {site} on {day}, the database "
            f"{expected[(site, day)]} ({len(wrong)} site-days differ): nothing was deleted; "
            "empty the ClickHouse database and run again"
        )
    copied.sites = len({site for site, _ in expected})
    copied.site_days = len(expected)
    if delete_source:
        with sessions.begin() as session:
            result = session.execute(delete(Event).where(Event.id <= last))
            copied.deleted = int(getattr(result, "rowcount", 0) or 0)
    return copied

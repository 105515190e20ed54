"""Write a batch of pending events in the caller's transaction: hash, insert, count scrubs.

The events go to the database through the driver, with statements compiled once per dialect (see
:func:`insert_of`): SQLAlchemy's Core insert would build, cache-key and compile the statement
and process every row's parameters again for each batch, which cost more processor time than the
ingest of the events itself. The scrub counts are added the same way, with one upsert (``INSERT
... ON CONFLICT DO UPDATE``, the same text on both databases) compiled once: a Core upsert with
a VALUES list was compiled again for every batch that scrubbed anything. On SQLite one INSERT
with a VALUES list of up to :data:`CHUNK` rows is run per chunk (the driver's executemany would
release the GIL and take it back once per row, each time making the event loop's thread wait);
on PostgreSQL the rows are sent with COPY (psycopg formats them in C), since psycopg's pipelined
executemany spends more time in Python per row than the whole ingest may, and a multi-row INSERT
would be parsed again in Python for every batch. Either way they are written in the session's
transaction, which the caller commits. The statements are kept per dialect (and the multi-row
INSERTs per number of rows, at most :data:`CHUNK` of them). The values are converted by the
columns' own bind processors (the ones SQLAlchemy applies), so the rows stored are exactly those
the ORM model :class:`avowal.analytics.models.Event` writes and reads back: aware UTC times and
dates as SQLite's text, props as JSON text on SQLite and as JSON on PostgreSQL.
"""

from __future__ import annotations

import datetime as dt
import threading
import weakref
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Dialect, Table
from sqlalchemy.orm import Session

from avowal.analytics import incremental, salts
from avowal.analytics.ingest import UTM_FIELDS, PendingEvent
from avowal.analytics.models import Event, ScrubCounter

if TYPE_CHECKING:
    from avowal.analytics.clickhouse.events import ClickHouseEvents

EVENTS: Table = Event.__table__  # type: ignore[assignment]
SCRUBBED: Table = ScrubCounter.__table__  # type: ignore[assignment]
# The columns an event is inserted with, in the order of the compiled INSERT's parameters.
COLUMNS = (
    "site_id",
    "ts",
    "day",
    "name",
    "path",
    "referrer_domain",
    "source",
    *UTM_FIELDS,
    "browser",
    "os",
    "device",
    "country",
    "visitor",
    "props",
    "interactive",
    "scroll_depth",
    "engagement_ms",
    "revenue_amount",
    "revenue_currency",
)
# The parameter marker of each DBAPI parameter style that takes parameters by position.
MARKERS = {"qmark": "?", "format": "%s", "pyformat": "%s"}
# Rows per INSERT on SQLite: 21 parameters each, well below its limit of 32,766.
CHUNK = 500

Processor = Callable[[Any], Any]


@dataclass(frozen=True)
class CompiledInsert:
    """The INSERT of event rows for one dialect, and the conversion of each value."""

    # The INSERT up to VALUES, and one row's "(?, ?, ...)".
    head: str
    one_row: str
    # (position, processor) for the columns whose values the driver cannot take as they are.
    processors: tuple[tuple[int, Processor], ...]
    # The upsert adding scrub counts: up to VALUES, one row's markers, the ON CONFLICT clause,
    # and the conversion of the day.
    scrub_head: str = ""
    scrub_row: str = ""
    scrub_tail: str = ""
    scrub_day: Processor | None = None
    # PostgreSQL: the COPY statement the rows are sent with instead.
    copy: str | None = None
    # INSERTs of n rows, by n, made on first use.
    by_size: dict[int, str] = field(default_factory=dict)

    def sql(self, rows: int) -> str:
        """Return the INSERT of ``rows`` rows."""
        sql = self.by_size.get(rows)
        if sql is None:
            sql = self.by_size[rows] = self.head + ", ".join([self.one_row] * rows)
        return sql

    def row(self, values: list[Any]) -> tuple[Any, ...]:
        """Return the driver's parameters for one row of values in :data:`COLUMNS` order."""
        for at, process in self.processors:
            values[at] = process(values[at])
        return tuple(values)

    def execute(self, connection: Connection, rows: Sequence[Sequence[Any]]) -> None:
        """Insert ``rows`` in the connection's transaction."""
        if self.copy is None:
            # One statement per chunk: the driver's executemany would step (and hand the GIL
            # to the event loop's thread and back) once per row.
            for start in range(0, len(rows), CHUNK):
                chunk = rows[start : start + CHUNK]
                params = tuple(value for row in chunk for value in row)
                connection.exec_driver_sql(self.sql(len(chunk)), params)
            return
        driver = connection.connection.driver_connection
        assert driver is not None
        with driver.cursor() as cursor, cursor.copy(self.copy) as copy:
            for row in rows:
                copy.write_row(row)

    def add_scrubbed(
        self, connection: Connection, counts: list[tuple[int, dt.date, str, int]]
    ) -> None:
        """Add ``counts`` (site, day, kind, count; sorted) to the scrub counters."""
        params: list[Any] = []
        for site_id, day, kind, count in counts:
            params += (site_id, self.scrub_day(day) if self.scrub_day else day, kind, count)
        rows = ", ".join([self.scrub_row] * len(counts))
        connection.exec_driver_sql(f"{self.scrub_head}{rows}{self.scrub_tail}", tuple(params))


_compiled: weakref.WeakKeyDictionary[Dialect, CompiledInsert] = weakref.WeakKeyDictionary()
_lock = threading.Lock()


def insert_of(dialect: Dialect) -> CompiledInsert:
    """Return the event INSERT for ``dialect``, compiled on first use."""
    with _lock:
        compiled = _compiled.get(dialect)
        if compiled is None:
            compiled = _compiled[dialect] = _compile(dialect)
        return compiled


def _compile(dialect: Dialect) -> CompiledInsert:
    marker = MARKERS[dialect.paramstyle]
    quote = dialect.identifier_preparer.quote
    names = ", ".join(quote(name) for name in COLUMNS)
    markers = ", ".join([marker] * len(COLUMNS))
    table = dialect.identifier_preparer.format_table(EVENTS)
    processors: list[tuple[int, Processor]] = []
    for at, name in enumerate(COLUMNS):
        process = EVENTS.c[name].type.dialect_impl(dialect).bind_processor(dialect)
        if process is not None:
            processors.append((at, process))
    head = f"INSERT INTO {table} ({names}) VALUES "
    copy = None if dialect.name == "sqlite" else f"COPY {table} ({names}) FROM STDIN"
    # The same upsert on both databases (ON CONFLICT ... DO UPDATE, SQLite 3.24 and later).
    scrubbed = dialect.identifier_preparer.format_table(SCRUBBED)
    key = ", ".join(quote(name) for name in ("site_id", "day", "kind"))
    count = quote("count")
    return CompiledInsert(
        head,
        f"({markers})",
        tuple(processors),
        scrub_head=f"INSERT INTO {scrubbed} ({key}, {count}) VALUES ",
        scrub_row=f"({marker}, {marker}, {marker}, {marker})",
        scrub_tail=(
            f" ON CONFLICT ({key}) DO UPDATE SET {count} = {scrubbed}.{count} + excluded.{count}"
        ),
        scrub_day=SCRUBBED.c.day.type.dialect_impl(dialect).bind_processor(dialect),
        copy=copy,
    )


def write_events(
    session: Session,
    events: Sequence[PendingEvent],
    now: dt.datetime,
    *,
    clickhouse: ClickHouseEvents | None = None,
) -> None:
    """Insert ``events`` and add their scrub counts, in the caller's open transaction.

    With ``clickhouse``, the events go to ClickHouse instead, once the scrub counts are written:
    if ClickHouse refuses them, the caller's transaction rolls back and nothing is acknowledged;
    the events are stored once ClickHouse answers, before the caller commits.
    """
    if not events:
        return
    connection = session.connection()
    compiled = insert_of(connection.dialect)
    if clickhouse is None:
        # Held until the commit: a worker pass waits for it before moving rollup marks.
        incremental.ingest_lock(session)
    day_salts: dict[dt.date, bytes] = {}
    rows: list[Sequence[Any]] = []
    scrubbed: Counter[tuple[int, dt.date, str]] = Counter()
    for e in events:
        day = e.ts.astimezone(dt.UTC).date()
        salt = day_salts.get(day)
        if salt is None:
            salt = day_salts[day] = salts.salt_for(session, day, now)
        utm = e.utm
        values = [
            e.site_id,
            e.ts,
            day,
            e.name,
            e.path,
            e.referrer_domain,
            e.source,
            *[utm.get(key) for key in UTM_FIELDS],
            e.browser,
            e.os,
            e.device,
            e.country,
            salts.visitor_hash(salt, e.site, e.ip, e.user_agent),
            e.props,
            e.interactive,
            e.scroll_depth,
            e.engagement_ms,
            e.revenue_amount,
            e.revenue_currency,
        ]
        rows.append(compiled.row(values) if clickhouse is None else _clickhouse_row(values))
        if e.scrubbed:
            for kind, count in e.scrubbed.items():
                if count:
                    scrubbed[(e.site_id, day, kind)] += count
    if clickhouse is None:
        compiled.execute(connection, rows)
    if scrubbed:
        # Sorted, so that two processes lock the counter rows in the same order.
        compiled.add_scrubbed(
            connection,
            [(site, day, kind, count) for (site, day, kind), count in sorted(scrubbed.items())],
        )
    if clickhouse is not None:
        clickhouse.insert(rows)


_PROPS = COLUMNS.index("props")


def _clickhouse_row(values: list[Any]) -> Sequence[Any]:
    # ClickHouse's Map column has no NULL: no props is the empty map.
    if values[_PROPS] is None:
        values[_PROPS] = {}
    return values

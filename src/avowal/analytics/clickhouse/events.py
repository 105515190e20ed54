"""The raw events of a site kept in ClickHouse: insert a batch, purge past retention, count.

One :class:`ClickHouseEvents` per address and process (:func:`of`): clickhouse-connect's HTTP
client keeps a pool of connections, and a chdb engine is opened once per process. Each thread
gets its own client (:meth:`ClickHouseEvents.client`): a client runs one query at a time.

An insert returns once ClickHouse has the batch (a synchronous insert: the data part is written
before the answer), which is what an ingest 202 waits for; any failure raises, and the group
commit answers 503 for the batch's events.
"""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Sequence
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from avowal.analytics.clickhouse import connection, schema, sql
from avowal.analytics.clickhouse.connection import Target

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

    from avowal.settings import Settings


class ClickHouseEvents:
    """The events table of one ClickHouse database."""

    def __init__(self, target: Target) -> None:
        self.target = target
        self._local = threading.local()

    def client(self) -> Client:
        """Return this thread's client (connected on first use)."""
        found: Client | None = getattr(self._local, "client", None)
        if found is None:
            found = self._local.client = connection.connect(self.target)
        return found

    def insert(self, rows: Sequence[Sequence[Any]]) -> None:
        """Insert rows of :data:`schema.COLUMNS` values; return once ClickHouse has them."""
        if rows:
            self.client().insert(schema.TABLE, rows, column_names=schema.COLUMNS)

    def upgrade(self, retention_days: int) -> list[str]:
        """Create or migrate the schema and set the retention; return what was done."""
        return schema.upgrade(self.client(), retention_days)

    def set_retention(self, retention_days: int) -> bool:
        """Make the TTL the policy's raw retention; return whether it changed."""
        return schema.set_retention(self.client(), retention_days)

    def is_current(self) -> bool:
        """Tell whether the schema is up to date."""
        return schema.is_current(self.client())

    def days(self, *, site_id: int | None = None) -> list[dt.date]:
        """Return the days that have events (of any site, or of one), oldest first."""
        if site_id is not None:
            found = self.client().query(
                f"SELECT DISTINCT day FROM {schema.TABLE} WHERE site_id = {{site:UInt32}} "
                "ORDER BY day",
                parameters={"site": site_id},
            )
            return [row[0] for row in found.result_rows]
        rows = (
            self.client()
            .query(
                "SELECT DISTINCT partition FROM system.parts "
                "WHERE database = {db:String} AND table = {t:String} AND active ORDER BY partition",
                parameters={"db": self.target.database, "t": schema.TABLE},
            )
            .result_rows
        )
        return [dt.date.fromisoformat(str(row[0])) for row in rows]

    def purge_before(self, cutoff: dt.date) -> list[tuple[dt.date, int]]:
        """Drop the days before ``cutoff`` (whole partitions); return each with its events."""
        dropped = []
        for day in self.days():
            if day >= cutoff:
                break
            count = self.count(day=day)
            # The partition's name is the day, checked above as a date: not a value from outside.
            # What is made from the events goes first: never kept without them.
            for table in (*schema.DERIVED, schema.TABLE):
                self.client().command(f"ALTER TABLE {table} DROP PARTITION '{day.isoformat()}'")
            dropped.append((day, count))
        return dropped

    def delete_site(self, site_id: int) -> int:
        """Delete a site's events, waiting until ClickHouse has rewritten its parts without
        them; return how many there were."""
        count = self.count(site_id=site_id)
        for table in (*schema.DERIVED, schema.TABLE):
            _delete(self.client(), table, site_id)
        return count

    def store_visits(self, site_id: int, day: dt.date, *, visit_minutes: int) -> None:
        """(Re)make a site-day's visits in ``analytics_visits`` (see :func:`store_visits`)."""
        store_visits(self.client(), site_id, day, visit_minutes=visit_minutes)

    def count(self, *, site_id: int | None = None, day: dt.date | None = None) -> int:
        """Return how many events are kept (of a site, of a day)."""
        return _count(self.client(), schema.TABLE, site_id, day)

    def disk_bytes(self, table: str = schema.TABLE) -> int:
        """Return the compressed bytes a table (the events by default) takes on disk."""
        rows = (
            self.client()
            .query(
                "SELECT sum(bytes_on_disk) FROM system.parts "
                "WHERE database = {db:String} AND table = {t:String} AND active",
                parameters={"db": self.target.database, "t": table},
            )
            .result_rows
        )
        return int(rows[0][0] or 0)


def _where(site_id: int | None, day: dt.date | None) -> tuple[str, dict[str, object]]:
    """Return the WHERE clause (empty for none) and parameters selecting a site, a day."""
    terms: list[str] = []
    parameters: dict[str, object] = {}
    if site_id is not None:
        terms.append("site_id = {site:UInt32}")
        parameters["site"] = site_id
    if day is not None:
        terms.append("day = {day:Date}")
        parameters["day"] = day
    return (" WHERE " + " AND ".join(terms) if terms else ""), parameters


def _count(client: Client, table: str, site_id: int | None, day: dt.date | None) -> int:
    where, parameters = _where(site_id, day)
    found = client.query(f"SELECT count() FROM {table}{where}", parameters=parameters)
    return int(found.result_rows[0][0])


def _delete(client: Client, table: str, site_id: int, day: dt.date | None = None) -> None:
    """Delete a site's (or site-day's) rows, waiting until ClickHouse has rewritten its data
    without them; nothing is run when there are none."""
    if _count(client, table, site_id, day):
        where, parameters = _where(site_id, day)
        client.command(
            f"ALTER TABLE {table} DELETE{where}",
            parameters=parameters,
            settings={"mutations_sync": 1},
        )


def store_visits(client: Client, site_id: int, day: dt.date, *, visit_minutes: int) -> None:
    """Replace a site-day's visits in ``analytics_visits`` by those its events make now with a
    gap of ``visit_minutes``, and their pages in ``analytics_visit_pages``: the old rows are
    deleted (waiting until they are; the day's note first, then the pages), then the visits
    inserted, made by the same SQL as the figures' (:func:`sql.store_visits_query`), then
    their pages (:func:`schema.pages_insert`), then the day noted (:func:`schema.days_insert`).
    For a day that is over: a reader takes the day's visits from the tables from then on, once
    the day is noted, last (:func:`stored_visit_days`)."""
    for table in schema.DERIVED:
        _delete(client, table, site_id, day)
    statement, parameters = sql.store_visits_query(site_id, day, visit_minutes=visit_minutes)
    client.command(statement, parameters=parameters)
    where, parameters = _where(site_id, day)
    client.command(schema.pages_insert(where), parameters=parameters)
    client.command(schema.days_insert(where), parameters=parameters)


def stored_visit_days(
    client: Client, site_id: int, first: dt.date, last: dt.date, *, visit_minutes: int
) -> list[dt.date]:
    """Return the days from ``first`` to ``last`` whose visits made with a gap of
    ``visit_minutes`` the tables hold for the site (noted once their visits and pages are
    written)."""
    found = client.query(
        f"SELECT DISTINCT day FROM {schema.DAYS_TABLE} WHERE site_id = {{site:UInt32}} "
        "AND day >= {first:Date} AND day <= {last:Date} AND visit_minutes = {minutes:UInt32} "
        "ORDER BY day",
        parameters={"site": site_id, "first": first, "last": last, "minutes": visit_minutes},
    )
    return [row[0] for row in found.result_rows]


def event_days(client: Client, first: dt.date, last: dt.date) -> list[dt.date]:
    """Return the days from ``first`` to ``last`` with events of any site: those with a
    partition, read from the table's metadata, not its rows."""
    found = client.query(
        "SELECT DISTINCT min_date FROM system.parts WHERE database = currentDatabase() "
        "AND table = {table:String} AND active AND min_date >= {first:Date} "
        "AND min_date <= {last:Date} ORDER BY min_date",
        parameters={"table": schema.TABLE, "first": first, "last": last},
    )
    return [row[0] for row in found.result_rows]


@lru_cache(maxsize=32)
def _for_url(url: str) -> ClickHouseEvents:
    return ClickHouseEvents(connection.parse(url))


def of(settings: Settings) -> ClickHouseEvents | None:
    """Return the ClickHouse events of ``settings``, or None when analytics stay relational."""
    given = settings.analytics_url
    if not given:
        return None
    # A str when set by model_copy(update=...), which does not validate.
    return _for_url(given.get_secret_value() if isinstance(given, SecretStr) else given)

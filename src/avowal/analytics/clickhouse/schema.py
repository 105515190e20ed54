"""The ClickHouse analytics schema, in ClickHouse's own terms, created and migrated by
``avowal db upgrade``.

One table, ``analytics_events``, holds exactly the columns of the relational store's
:class:`avowal.analytics.models.Event` (no IP, no user agent: scrubbed paths and props and the
daily visitor hash), typed for a column store:

- a MergeTree partitioned by day, so retention drops whole days, and ordered by
  ``(site_id, day, visitor, ts, id)``: a site's range of days is one contiguous read, and each
  visitor's events of a day lie together in time order, as visits are made of them;
- low-cardinality strings for the columns with few values (names, sources, browsers...);
- the policy's raw-event retention as a TTL on the day (kept equal to the policy at every
  upgrade and start, see :func:`set_retention`); the worker also drops the partitions past it
  (:func:`avowal.analytics.clickhouse.events.ClickHouseEvents.purge_before`), since a TTL only
  runs when ClickHouse merges, and readers never read a day past it;
- ``id``, a Snowflake id given by ClickHouse on insert, orders the events of one instant.

A second table, ``analytics_visits``, holds the same events regrouped into visits, for the days
that are over (the worker writes a site-day's visits when it rolls the day up for good, see
:func:`avowal.analytics.clickhouse.events.store_visits`): one row per visit of the ``visits`` step
of :mod:`avowal.analytics.clickhouse.sql` (its first event's attributes, its page views, custom
events and engagements), with the gap it was made with, so that a filtered dashboard reads
visits instead of re-making them from raw events. It holds nothing the events do not (no IP, no
user agent), is partitioned by day and kept by the same TTL, and is dropped with them.

A third, ``analytics_visit_pages``, holds the same visits once more, one row per page a visit
viewed (the page's views, seconds to the next view, engagement, and whether it was the visit's
entry or exit page, beside the visit's attributes and figures): the page table and the entry
and exit pages of a filtered dashboard sum its rows instead of expanding every visit's page
views. Like the other two tables it is ordered by visitor within each day (:data:`PAGES_ORDER`,
step 7), so that a sample of visitors reads only its share of a day. It is made from
``analytics_visits`` (:data:`PAGES_FROM_VISITS`), right after a day's visits are. Then
``analytics_visit_days`` notes the site-day (and gap) as kept: readers read a day's visits from
the two tables from then on, never a day half written.

Salts stay in avowal's own database and are destroyed there, as before. Migrations are numbered
steps recorded in ``avowal_migrations``; each runs once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import TYPE_CHECKING

from avowal.analytics import store
from avowal.analytics.visits import MICROS, VISIT_DIMENSIONS

if TYPE_CHECKING:
    from clickhouse_connect.driver.client import Client

TABLE = "analytics_events"
VISITS_TABLE = "analytics_visits"
PAGES_TABLE = "analytics_visit_pages"
# The site-days whose visits and pages are kept (for which gap): written last, deleted first.
DAYS_TABLE = "analytics_visit_days"
# The tables kept as long as raw events, by the same TTL.
TABLES = (TABLE, VISITS_TABLE, PAGES_TABLE, DAYS_TABLE)
# The tables made from the events, the last made first: dropped, emptied, before what they are
# made from, so that none is kept without its source.
DERIVED = (DAYS_TABLE, PAGES_TABLE, VISITS_TABLE)
MIGRATIONS_TABLE = "avowal_migrations"

# The columns an insert names, in order: the relational store's.
COLUMNS = store.COLUMNS

_CREATE_EVENTS = f"""
CREATE TABLE IF NOT EXISTS {TABLE} (
    site_id UInt32,
    ts DateTime64(6, 'UTC'),
    day Date,
    name LowCardinality(String),
    path String,
    referrer_domain LowCardinality(Nullable(String)),
    source LowCardinality(Nullable(String)),
    utm_source Nullable(String),
    utm_medium LowCardinality(Nullable(String)),
    utm_campaign Nullable(String),
    utm_term Nullable(String),
    utm_content Nullable(String),
    browser LowCardinality(Nullable(String)),
    os LowCardinality(Nullable(String)),
    device LowCardinality(Nullable(String)),
    country LowCardinality(Nullable(String)),
    visitor Int64,
    props Map(String, String),
    interactive Nullable(Bool),
    scroll_depth Nullable(UInt8),
    engagement_ms Nullable(Int64),
    revenue_amount Nullable(String),
    revenue_currency LowCardinality(Nullable(String)),
    id UInt64 DEFAULT generateSnowflakeID()
)
ENGINE = MergeTree
PARTITION BY day
ORDER BY (site_id, day, visitor, ts, id)
"""

_ATTRIBUTES = ", ".join(["LowCardinality(Nullable(String))"] * len(VISIT_DIMENSIONS))
_CREATE_VISITS = f"""
CREATE TABLE IF NOT EXISTS {VISITS_TABLE} (
    site_id UInt32,
    visit_minutes UInt32,
    day Date,
    visitor Int64,
    first_t Int64,
    last_t Int64,
    attrs Tuple({_ATTRIBUTES}),
    pages Array(Tuple(Int64, UInt64, String)),
    customs Array(Tuple(Int64, UInt64, LowCardinality(String), Map(String, String), Bool,
        LowCardinality(Nullable(String)), Nullable(Int64))),
    engagements Array(Tuple(String, Int64, Int64)),
    views Int64,
    fired Int64,
    bounce Int64,
    duration Int64
)
ENGINE = MergeTree
PARTITION BY day
ORDER BY (site_id, day, visitor, first_t)
"""

_CREATE_PAGES = f"""
CREATE TABLE IF NOT EXISTS {PAGES_TABLE} (
    site_id UInt32,
    visit_minutes UInt32,
    day Date,
    path LowCardinality(String),
    visitor Int64,
    first_t Int64,
    attrs Tuple({_ATTRIBUTES}),
    views Int64,
    seconds Int64,
    engaged_ms Int64,
    scroll Int64,
    scrolled UInt8,
    entry Bool,
    exit Bool,
    visit_views Int64,
    bounce Int64,
    duration Int64,
    fired Int64
)
ENGINE = MergeTree
PARTITION BY day
ORDER BY (site_id, visit_minutes, day, path, visitor, first_t)
"""

# The columns of analytics_visit_pages from the rows of analytics_visits (``FROM`` and the rest
# follow): one row per distinct page of a visit, with, as rollup.DayFigures counts them, the
# page's views, the seconds from each of its views to the visit's next page view, its summed
# engaged time and deepest scroll when the visit sent engagement for it (``scrolled``), and
# whether it is the visit's first (entry) or last (exit) page. The insert names its columns by
# position: aliases differ from the visits' column names they would hide.
PAGES_FROM_VISITS = f"""
SELECT site_id, visit_minutes, day, path, visitor, first_t, attrs,
    toInt64(countEqual(arrayMap(p -> p.3, pages), path)) AS path_views,
    arraySum(arrayMap((p, i) -> if(p.3 = path AND i < length(pages),
        intDiv(pages[i + 1].1 - p.1, {MICROS}), 0), pages, arrayEnumerate(pages))) AS seconds,
    arraySum(arrayMap(e -> if(e.1 = path, e.3, 0), engagements)) AS engaged_ms,
    arrayMax(arrayMap(e -> if(e.1 = path, e.2, 0), engagements)) AS scroll,
    toUInt8(arrayExists(e -> e.1 = path, engagements)) AS scrolled,
    path = pages[1].3 AS entry,
    path = pages[-1].3 AS exit,
    toInt64(length(pages)) AS visit_views, bounce, duration, fired
"""
_PAGE_COLUMNS = (
    "site_id, visit_minutes, day, path, visitor, first_t, attrs, views, seconds, engaged_ms, "
    "scroll, scrolled, entry, exit, visit_views, bounce, duration, fired"
)


def pages_insert(where: str = "") -> str:
    """The statement inserting the page rows of the visits ``where`` selects (all without)."""
    return (
        f"INSERT INTO {PAGES_TABLE} ({_PAGE_COLUMNS}) {PAGES_FROM_VISITS} FROM {VISITS_TABLE} "
        f"ARRAY JOIN arrayDistinct(arrayMap(p -> p.3, pages)) AS path {where}"
    )


_CREATE_DAYS = f"""
CREATE TABLE IF NOT EXISTS {DAYS_TABLE} (site_id UInt32, visit_minutes UInt32, day Date)
ENGINE = MergeTree
PARTITION BY day
ORDER BY (site_id, visit_minutes, day)
"""


def days_insert(where: str = "") -> str:
    """The statement noting as kept the site-days of the visits ``where`` selects (all
    without)."""
    return (
        f"INSERT INTO {DAYS_TABLE} (site_id, visit_minutes, day) "
        f"SELECT DISTINCT site_id, visit_minutes, day FROM {VISITS_TABLE} {where}"
    )


# The page rows' sort key from step 7 on: by visitor within each day, as the events and the
# visits are, so that a sample of visitors (avowal.analytics.sampling) reads its share of each
# day only. Step 3 sorted them by page, which a sample could not narrow.
PAGES_ORDER = "site_id, visit_minutes, day, visitor, path, first_t"
_RESORTING = f"{PAGES_TABLE}_resorted"


def _resort_pages(client: Client) -> None:
    """Sort ``analytics_visit_pages`` by :data:`PAGES_ORDER`: copy its rows into a table so
    sorted, swap the two, drop the old one. It may run again after a crash in the middle: a
    copy left behind (half made, or the old rows once swapped) is dropped first, and a table
    already sorted is left as it is."""
    client.command(f"DROP TABLE IF EXISTS {_RESORTING}")
    found = client.query(
        "SELECT sorting_key FROM system.tables WHERE database = currentDatabase() "
        "AND name = {name:String}",
        parameters={"name": PAGES_TABLE},
    ).result_rows
    if found and found[0][0] == PAGES_ORDER:
        return
    client.command(
        f"CREATE TABLE {_RESORTING} AS {PAGES_TABLE} "
        f"ENGINE = MergeTree PARTITION BY day ORDER BY ({PAGES_ORDER})"
    )
    client.command(f"INSERT INTO {_RESORTING} SELECT * FROM {PAGES_TABLE}")
    client.command(f"EXCHANGE TABLES {PAGES_TABLE} AND {_RESORTING}")
    client.command(f"DROP TABLE {_RESORTING}")


# (number, what it does, statement or function); appended to, never edited once released.
STEPS: tuple[tuple[int, str, str | Callable[[Client], None]], ...] = (
    (1, "create analytics_events", _CREATE_EVENTS),
    (2, "create analytics_visits", _CREATE_VISITS),
    (3, "create analytics_visit_pages", _CREATE_PAGES),
    (4, "create analytics_visit_days", _CREATE_DAYS),
    (5, "make the page rows of the visits kept", pages_insert()),
    (6, "note the days of the visits kept", days_insert()),
    (7, "sort the page rows by visitor within each day", _resort_pages),
)


def _applied(client: Client) -> set[int]:
    client.command(
        f"CREATE TABLE IF NOT EXISTS {MIGRATIONS_TABLE} "
        "(step UInt32, name String, applied_at DateTime64(6, 'UTC')) "
        "ENGINE = MergeTree ORDER BY step"
    )
    return {int(row[0]) for row in client.query(f"SELECT step FROM {MIGRATIONS_TABLE}").result_rows}


def upgrade(client: Client, retention_days: int) -> list[str]:
    """Apply the steps not applied yet and set the retention; return what was done."""
    done = []
    applied = _applied(client)
    for step, name, statement in STEPS:
        if step in applied:
            continue
        if callable(statement):
            statement(client)
        else:
            client.command(statement)
        client.insert(
            MIGRATIONS_TABLE,
            [[step, name, dt.datetime.now(dt.UTC)]],
            column_names=["step", "name", "applied_at"],
        )
        done.append(f"step {step}: {name}")
    if set_retention(client, retention_days):
        done.append(f"raw events kept {retention_days} days (TTL)")
    return done


def is_current(client: Client) -> bool:
    """Tell whether every step has been applied."""
    return {step for step, _, _ in STEPS} <= _applied(client)


def ttl_days(client: Client, table: str = TABLE) -> int | None:
    """Return the table's TTL in days, or None when it has none."""
    create = client.command(f"SHOW CREATE TABLE {table}")
    text = create if isinstance(create, str) else str(create)
    marker = "TTL day + toIntervalDay("
    at = text.find(marker)
    if at < 0:
        return None
    return int(text[at + len(marker) : text.index(")", at)]) - 1


def set_retention(client: Client, retention_days: int) -> bool:
    """Make the tables' TTL the policy's raw retention; return whether it changed.

    avowal keeps the days from ``today - retention_days`` on (worker.retention_cutoff), and a
    TTL expires a row once its time has passed: a day expires at the end of its last kept day,
    the start of ``day + retention_days + 1``.
    """
    expires = int(retention_days) + 1
    changed = False
    for table in TABLES:
        if ttl_days(client, table) != retention_days:
            client.command(f"ALTER TABLE {table} MODIFY TTL day + toIntervalDay({expires})")
            changed = True
    return changed

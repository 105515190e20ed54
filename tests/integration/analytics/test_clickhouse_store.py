"""Analytics kept in ClickHouse (AVOWAL_ANALYTICS_URL, on chdb's embedded engine): the same
events reach it as reach the database, nothing is acknowledged that it does not have, its schema
and retention are ClickHouse's own, and the address is checked and never shown whole."""

from __future__ import annotations

import datetime as dt
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from pydantic import ValidationError
from sqlalchemy import Engine, func, select
from typer.testing import CliRunner

from avowal.analytics import query, rollup, worker, writer
from avowal.analytics.clickhouse import connection, events, schema, sql
from avowal.analytics.clickhouse.reader import ClickHouseReader
from avowal.analytics.dimensions import NAMES
from avowal.analytics.filters import VisitFilter
from avowal.analytics.models import Event, ScrubCounter
from avowal.analytics.query import DayRange
from avowal.app import create_app
from avowal.cli import app as cli_app
from avowal.db.engine import make_sessionmaker
from avowal.policy.loader import load_file
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import (
    add_events,
    add_site,
    clickhouse_values,
    random_events,
)
from tests.integration.analytics.stores import stored_rows

SITE = "www.contactmonkey.com"
GEOIP = Path(__file__).resolve().parents[2] / "data" / "geoip" / "GeoIP2-Country-Test.mmdb"
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
# Today: ClickHouse applies the retention TTL on insert, so an older day would not be kept.
NOON = dt.datetime.combine(dt.datetime.now(dt.UTC).date(), dt.time(12), tzinfo=dt.UTC)

# Every kind of field an event may carry, as Plausible's trackers send them.
PAYLOADS: list[dict[str, Any]] = [
    {"n": "pageview", "u": f"https://{SITE}/pricing?utm_source=news&utm_medium=mail&x=1"},
    {"n": "pageview", "u": f"https://{SITE}/blog", "r": "https://www.google.com/search?q=a"},
    {
        "n": "Signup",
        "u": f"https://{SITE}/users/ada@example.com",
        "p": {"plan": "pro", "seats": 3, "note": "call 555-0100"},
        "$": {"amount": "12.5", "currency": "EUR"},
    },
    {"n": "engagement", "u": f"https://{SITE}/blog", "sd": 80, "e": 4200},
    {"n": "Video", "u": f"https://{SITE}/blog", "i": False},
    {"n": "pageview", "u": f"https://{SITE}/ünïcode/页面"},
]


def send(client: TestClient, payload: dict[str, Any], ip: str) -> Any:
    body = json.dumps({"d": SITE, **payload}).encode()
    return client.post(
        "/api/event",
        content=body,
        headers={"Content-Type": "text/plain", "User-Agent": FIREFOX, "X-Forwarded-For": ip},
    )


def ingest_all(settings: Settings, engine: Engine) -> None:
    update = {"trusted_proxies": ["10.0.0.0/8"], "geoip_file": GEOIP}
    app = create_app(settings.model_copy(update=update), engine=engine)
    with TestClient(app, client=("10.0.0.1", 4000)) as client:
        app.state.analytics.clock = lambda: NOON
        for i, payload in enumerate(PAYLOADS):
            response = send(client, payload, "81.2.69.160" if i % 2 else "198.51.100.7")
            assert response.status_code == 202, response.text


def comparable(row: dict[str, Any]) -> dict[str, Any]:
    """A row with the stores' representations made alike: naive UTC times, no props as {}."""
    out = dict(row)
    ts = out["ts"]
    out["ts"] = ts.astimezone(dt.UTC).replace(tzinfo=None) if ts.tzinfo else ts
    out["props"] = out["props"] or {}
    return out


@pytest.fixture
def ch_settings(settings: Settings, clickhouse_url: str) -> Iterator[Settings]:
    configured = settings.model_copy(update={"analytics_url": clickhouse_url})
    store = events.of(Settings(analytics_url=clickhouse_url))
    assert store is not None
    policy = load_file(settings.policy_file)
    store.upgrade(policy.policy.analytics.raw_retention_days)
    yield configured


def test_clickhouse_keeps_exactly_what_the_database_keeps(
    settings: Settings, ch_settings: Settings, engine: Engine, tmp_path: Path
) -> None:
    # The same events through a server on the database alone...
    ingest_all(settings, engine)
    expected = [comparable(r) for r in stored_rows(settings, engine)]
    assert len(expected) == len(PAYLOADS)
    with engine.begin() as conn:
        conn.execute(Event.__table__.delete())  # type: ignore[arg-type]
        counted = dict(conn.execute(select(ScrubCounter.kind, ScrubCounter.count)).all())
        conn.execute(ScrubCounter.__table__.delete())  # type: ignore[arg-type]
    # ... and through one keeping them in ClickHouse: the same rows, none in the database.
    ingest_all(ch_settings, engine)
    got = [comparable(r) for r in stored_rows(ch_settings, engine)]
    assert got == expected
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == 0
        # The scrub counts stay in the database, as with the database store.
        assert dict(conn.execute(select(ScrubCounter.kind, ScrubCounter.count)).all()) == counted
    text = json.dumps([{k: str(v) for k, v in r.items()} for r in got])
    for needle in ("198.51.100.7", "81.2.69.160", "Firefox/128.0", "ada@example.com", "q=a"):
        assert needle not in text


def test_nothing_is_acknowledged_when_clickhouse_is_unreachable(
    settings: Settings, engine: Engine
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]  # nothing listens there once closed
    down = settings.model_copy(update={"analytics_url": f"clickhouse://127.0.0.1:{port}/avowal"})
    app = create_app(down, engine=engine)
    with TestClient(app) as client:
        payload = {"n": "pageview", "u": f"https://{SITE}/users/ada@example.com"}
        response = send(client, payload, "198.51.100.7")
    assert response.status_code == 503, response.text
    assert response.json()["error"] == "ingest_unavailable"
    with engine.connect() as conn:
        assert conn.scalar(select(func.count()).select_from(Event)) == 0
        # The scrub count written before ClickHouse refused was rolled back with the event.
        assert conn.scalar(select(func.count()).select_from(ScrubCounter)) == 0


def test_schema_is_clickhouses_own_and_retention_is_a_ttl(ch_settings: Settings) -> None:
    store = events.of(ch_settings)
    assert store is not None
    client = store.client()
    create = str(client.command(f"SHOW CREATE TABLE {schema.TABLE}"))
    assert "ENGINE = MergeTree" in create
    assert "PARTITION BY day" in create
    assert "ORDER BY (site_id, day, visitor, ts, id)" in create
    assert "`source` LowCardinality(Nullable(String))" in create
    # The example policy's raw retention: a day expires at the end of its 30th day after.
    assert "TTL day + toIntervalDay(31)" in create
    # Exactly the database's columns (and ClickHouse's own event id).
    described = {row[0] for row in client.query(f"DESCRIBE TABLE {schema.TABLE}").result_rows}
    relational = {c.name for c in Event.__table__.columns}
    assert described == relational
    # The visits of days that are over: the same retention, ordered for a site's days.
    visits = str(client.command(f"SHOW CREATE TABLE {schema.VISITS_TABLE}"))
    assert "PARTITION BY day" in visits
    assert "ORDER BY (site_id, day, visitor, first_t)" in visits
    assert "TTL day + toIntervalDay(31)" in visits
    columns = {row[0] for row in client.query(f"DESCRIBE TABLE {schema.VISITS_TABLE}").result_rows}
    assert columns == {"site_id", "visit_minutes", *sql.VISIT_COLUMNS}
    # Their pages, ordered by visitor within a day (re-sorted by step 7), and the days kept.
    pages = str(client.command(f"SHOW CREATE TABLE {schema.PAGES_TABLE}"))
    assert "ORDER BY (site_id, visit_minutes, day, visitor, path, first_t)" in pages
    assert "`path` LowCardinality(String)" in pages
    assert "TTL day + toIntervalDay(31)" in pages
    for table in (schema.PAGES_TABLE, schema.DAYS_TABLE):
        assert "PARTITION BY day" in str(client.command(f"SHOW CREATE TABLE {table}"))
    steps = client.query(f"SELECT step, name FROM {schema.MIGRATIONS_TABLE} ORDER BY step")
    assert steps.result_rows == [
        (1, "create analytics_events"),
        (2, "create analytics_visits"),
        (3, "create analytics_visit_pages"),
        (4, "create analytics_visit_days"),
        (5, "make the page rows of the visits kept"),
        (6, "note the days of the visits kept"),
        (7, "sort the page rows by visitor within each day"),
    ]
    # Each step runs once; the retention follows the policy's, in every table.
    assert store.upgrade(30) == []
    assert store.upgrade(90) == ["raw events kept 90 days (TTL)"]
    for table in schema.TABLES:
        assert schema.ttl_days(client, table) == 90, table
    # A visits table whose TTL drifted is put back too.
    client.command(f"ALTER TABLE {schema.VISITS_TABLE} MODIFY TTL day + toIntervalDay(5)")
    assert store.set_retention(90) is True
    assert schema.ttl_days(client, schema.VISITS_TABLE) == 90


def test_the_worker_drops_days_past_retention_and_follows_the_policy(
    ch_settings: Settings, engine: Engine
) -> None:
    store = events.of(ch_settings)
    assert store is not None
    policy = load_file(ch_settings.policy_file)
    today = NOON.date()  # the TTL counts from the real today
    days = [today - dt.timedelta(days=n) for n in (40, 31, 30, 1)]
    with make_sessionmaker(engine).begin() as session:
        site = add_site(session)  # the worker rolls up (and keeps the visits of) its days
    rows = []
    for day in days:
        ts = dt.datetime.combine(day, dt.time(9), tzinfo=dt.UTC)
        rows.append(
            [site, ts, day, "pageview", "/", *[None] * 11, 7, {}, None, None, None, None, None]
        )
        rows.append(
            [site, ts, day, "pageview", "/b", *[None] * 11, 7, {}, None, None, None, None, None]
        )
    store.set_retention(3650)  # as if the policy had kept them longer until now
    store.insert(rows)
    now = dt.datetime.combine(today, dt.time(12), tzinfo=dt.UTC)
    report = worker.run_pass(make_sessionmaker(engine), ch_settings, policy, now)
    assert report.failed == []
    # 30 days kept: today - 30 is the oldest day kept.
    assert report.purged == [(worker.ALL_SITES, days[0], 2), (worker.ALL_SITES, days[1], 2)]
    assert store.days() == sorted(days[2:])
    assert store.count() == 4
    for table in schema.TABLES:
        assert schema.ttl_days(store.client(), table) == 30, table
    # The days rolled up for good had their visits kept; those past retention went with them.
    assert visit_days(store) == sorted(days[2:])
    # Visits missing for days rolled up for good (kept before there was a visits table, or
    # lost) are made by the next pass, the days not rolled up again.
    for table in schema.DERIVED:
        store.client().command(f"TRUNCATE TABLE {table}")
    again = worker.run_pass(make_sessionmaker(engine), ch_settings, policy, now)
    assert again.failed == [] and again.rolled == []
    assert visit_days(store) == sorted(days[2:])


def visit_days(store: events.ClickHouseEvents) -> list[dt.date]:
    """Return the days of the kept visits, checking that each table holds the same days."""
    found = [
        [
            row[0]
            for row in store.client()
            .query(f"SELECT DISTINCT day FROM {t} ORDER BY day")
            .result_rows
        ]
        for t in schema.DERIVED
    ]
    assert found[0] == found[1] == found[2], found
    return found[0]


def test_db_upgrade_creates_the_schema_and_serve_refuses_until_then(
    settings: Settings, engine: Engine, clickhouse_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))
    monkeypatch.setenv("AVOWAL_ANALYTICS_URL", clickhouse_url)
    runner = CliRunner()
    target = connection.parse(clickhouse_url)
    refused = runner.invoke(cli_app, ["serve", "--port", "1"])
    assert refused.exit_code == 1
    assert "ClickHouse schema" in refused.output and "avowal db upgrade" in refused.output
    result = runner.invoke(cli_app, ["db", "upgrade"])
    assert result.exit_code == 0, result.output
    assert f"analytics in ClickHouse at {target.describe()}: step 1" in result.output
    again = runner.invoke(cli_app, ["db", "upgrade"])
    assert "up to date" in again.output


@pytest.mark.parametrize(
    ("url", "fault"),
    [
        ("mysql://h/db", "unknown scheme 'mysql'"),
        ("clickhouse:///db", "names no host"),
        ("clickhouse://u:hunter2@h/bad-name", "database name 'bad-name'"),
        ("chdb://relative/folder", "absolute folder"),
        ("clickhouse://h:99999/db", "not a URL"),
    ],
)
def test_a_bad_address_is_refused_naming_the_fault_never_the_password(url: str, fault: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(analytics_url=url)
    assert fault in str(caught.value)
    assert "hunter2" not in str(caught.value)


def test_the_address_is_described_without_its_password() -> None:
    target = connection.parse("clickhouses://reader:hunter2@ch.example.com:8443/stats")
    assert target.describe() == "clickhouses://reader@ch.example.com:8443/stats"
    assert (target.host, target.port, target.database, target.password) == (
        "ch.example.com",
        8443,
        "stats",
        "hunter2",
    )
    assert "hunter2" not in repr(Settings(analytics_url="clickhouse://u:hunter2@h/db"))


def test_an_embedded_engine_never_gets_a_writer_process(clickhouse_url: str) -> None:
    on_chdb = Settings(env="production", analytics_writer="process", analytics_url=clickhouse_url)
    assert not writer.uses_process(on_chdb)
    served = Settings(
        env="production",
        analytics_writer="process",
        analytics_url="clickhouse://ch.example.com/stats",
        database_url="postgresql+psycopg://u@db.example.com/avowal",
    )
    assert writer.uses_process(served)


def hours(t: Any) -> tuple[int, ...]:
    return (t.visitors, t.visits, t.pageviews, t.events)


def test_days_past_retention_keep_their_figures_as_rollups(
    ch_settings: Settings, engine: Engine
) -> None:
    """The worker rolls each day that is over into the database's rollups before its raw
    events go: a range reaching past the retention reads those days from them, the same
    figures as ClickHouse gave while it had the events."""
    store = events.of(ch_settings)
    assert store is not None
    policy = load_file(ch_settings.policy_file)
    sessions = make_sessionmaker(engine)
    today = NOON.date()
    first = today - dt.timedelta(days=40)
    with sessions.begin() as session:
        site_id = add_site(session)
    store.set_retention(3650)  # as if the policy had kept them longer until now
    store.insert(clickhouse_values(random_events(site_id, first, 16, per_day=20)))
    everything = DayRange(first, today)
    two_days = DayRange(first, first + dt.timedelta(days=1))
    before = ClickHouseReader(store.client(), site_id, visit_minutes=30)
    expected = (
        {d: t.as_dict() for d, t in before.by_day(everything).items()},
        {d: [(v, t.as_dict()) for v, t in before.breakdown(d, everything, None)] for d in NAMES},
        {h: hours(t) for h, t in before.by_hour(two_days).items()},
    )
    filtered = ClickHouseReader(store.client(), site_id, FILTERS, visit_minutes=30)
    # Filters need raw events: the days within the raw retention.
    kept = DayRange(query.first_kept_day(today, policy.policy.analytics.raw_retention_days), today)
    expected_filtered = filtered_answers(filtered, kept)
    report = worker.run_pass(sessions, ch_settings, policy, NOON)
    assert report.failed == []
    assert len(report.rolled) == 16  # every day is over
    kept_from = query.first_kept_day(today, policy.policy.analytics.raw_retention_days)
    assert store.days() == [
        d for d in everything.each() if kept_from <= d < first + dt.timedelta(days=16)
    ]
    with sessions() as session:
        after = ClickHouseReader(store.client(), site_id, visit_minutes=30, history=session)
        # Every day rolled up for good is read from its rollup, those past retention included.
        last = first + dt.timedelta(days=15)
        assert after.split(everything) == (
            [d for d in everything.each() if d <= last],
            [d for d in everything.each() if d > last],
        )
        got = (
            {d: t.as_dict() for d, t in after.by_day(everything).items()},
            {d: [(v, t.as_dict()) for v, t in after.breakdown(d, everything, None)] for d in NAMES},
            {h: hours(t) for h, t in after.by_hour(two_days).items()},
        )
        # Filtered, the days that are over read their visits from analytics_visits.
        assert events.stored_visit_days(
            store.client(), site_id, kept.start, kept.end, visit_minutes=30
        ) == [d for d in kept.each() if d <= last]
        filtered = ClickHouseReader(store.client(), site_id, FILTERS, visit_minutes=30)
        assert filtered_answers(filtered, kept) == expected_filtered
    assert got == expected
    assert expected[0] and expected_filtered[0]  # there were figures to compare


FILTERS = (VisitFilter("page", "/", negated=True), VisitFilter("device", "mobile", negated=True))


def filtered_answers(reader: ClickHouseReader, days: DayRange) -> tuple[Any, ...]:
    return (
        {d: t.as_dict() for d, t in reader.by_day(days).items()},
        {d: [(v, t.as_dict()) for v, t in reader.breakdown(d, days, None)] for d in NAMES},
        {h: hours(t) for h, t in reader.by_hour(days).items()},
    )


def cli_env(settings: Settings) -> dict[str, str]:
    return {
        "AVOWAL_DATABASE_URL": settings.effective_database_url,
        "AVOWAL_DATA_DIR": str(settings.data_dir),
        "AVOWAL_POLICY_FILE": str(settings.policy_file),
    }


def test_migrate_copies_every_event_in_order_then_refuses_to_copy_twice(
    settings: Settings, engine: Engine, clickhouse_url: str
) -> None:
    sessions = make_sessionmaker(engine)
    first = NOON.date() - dt.timedelta(days=3)
    with sessions.begin() as session:
        site = add_site(session)
        other = add_site(session, "other.example.com")
        add_events(session, random_events(site, first, 3, per_day=15))
        add_events(session, random_events(other, first, 2, seed=3, per_day=5))
    expected = [comparable(r) for r in stored_rows(settings, engine)]
    runner = CliRunner()
    env = cli_env(settings)
    moved = runner.invoke(cli_app, ["analytics", "migrate", "--to", clickhouse_url], env=env)
    assert moved.exit_code == 0, moved.output
    target = connection.parse(clickhouse_url)
    assert f"copied {len(expected)} events of 2 sites (5 site-days)" in moved.output
    assert f"set AVOWAL_ANALYTICS_URL to {target.describe()}" in moved.output
    configured = settings.model_copy(update={"analytics_url": clickhouse_url})
    assert [comparable(r) for r in stored_rows(configured, engine)] == expected
    # Without --delete-source, the database keeps its copies until their retention ends.
    assert len(stored_rows(settings, engine)) == len(expected)
    # The figures ClickHouse computes from them are the database's.
    store = events.of(configured)
    assert store is not None
    reader = ClickHouseReader(store.client(), site, visit_minutes=30)
    with sessions() as session:
        for day in DayRange(first, first + dt.timedelta(days=2)).each():
            want = rollup.compute_day(session, site, day, visit_minutes=30)
            got = reader.figures([day])[day]
            assert {k: t.as_dict() for k, t in got.daily.items()} == {
                k: t.as_dict() for k, t in want.daily.items()
            }
    again = runner.invoke(cli_app, ["analytics", "migrate", "--to", clickhouse_url], env=env)
    assert again.exit_code == 1
    assert f"already holds {len(expected)} events" in again.output
    already = runner.invoke(
        cli_app,
        ["analytics", "migrate", "--to", clickhouse_url],
        env={**env, "AVOWAL_ANALYTICS_URL": clickhouse_url},
    )
    assert already.exit_code == 1 and "already kept in ClickHouse" in already.output


def test_migrate_deletes_the_source_only_when_asked_and_names_a_bad_address(
    settings: Settings, engine: Engine, clickhouse_url: str
) -> None:
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        add_events(session, random_events(add_site(session), NOON.date(), 1, per_day=10))
    count = len(stored_rows(settings, engine))
    runner = CliRunner()
    env = cli_env(settings)
    bad = runner.invoke(cli_app, ["analytics", "migrate", "--to", "mysql://h/db"], env=env)
    assert bad.exit_code == 1 and "unknown scheme 'mysql'" in bad.output
    moved = runner.invoke(
        cli_app, ["analytics", "migrate", "--to", clickhouse_url, "--delete-source"], env=env
    )
    assert moved.exit_code == 0, moved.output
    assert f"deleted the {count} raw events from the database" in moved.output
    assert stored_rows(settings, engine) == []
    configured = settings.model_copy(update={"analytics_url": clickhouse_url})
    assert len(stored_rows(configured, engine)) == count


def test_removing_a_site_deletes_its_events_in_clickhouse(
    ch_settings: Settings, engine: Engine
) -> None:
    store = events.of(ch_settings)
    assert store is not None
    sessions = make_sessionmaker(engine)
    with sessions.begin() as session:
        gone = add_site(session, "gone.example.com")
        kept = add_site(session, "kept.example.com")
    store.insert(clickhouse_values(random_events(gone, NOON.date(), 1, per_day=8)))
    store.insert(clickhouse_values(random_events(kept, NOON.date(), 1, per_day=4)))
    for site in (gone, kept):
        store.store_visits(site, NOON.date(), visit_minutes=30)
    before = store.count(site_id=gone)
    result = CliRunner().invoke(
        cli_app,
        ["analytics", "site", "remove", "gone.example.com", "--yes"],
        env={**cli_env(ch_settings), "AVOWAL_ANALYTICS_URL": str(ch_settings.analytics_url)},
    )
    assert result.exit_code == 0, result.output
    assert f"removed with its {before} events" in result.output
    assert store.count(site_id=gone) == 0
    assert store.count(site_id=kept) > 0
    # Its visits, their pages and its days too.
    for table in schema.DERIVED:
        counted = dict(
            store.client()
            .query(f"SELECT site_id, count() FROM {table} GROUP BY site_id")
            .result_rows
        )
        assert gone not in counted and counted[kept] > 0, table


def test_a_server_on_chdb_runs_the_worker_itself(clickhouse_url: str) -> None:
    on_chdb = Settings(env="development", analytics_url=clickhouse_url)
    assert worker.runs_in_server(on_chdb, "postgresql")  # no `avowal worker` could open it
    served = Settings(env="development", analytics_url="clickhouse://ch.example.com/stats")
    assert not worker.runs_in_server(served, "postgresql")  # `avowal worker` runs beside
    assert worker.runs_in_server(served, "sqlite")
    assert not worker.runs_in_server(on_chdb.model_copy(update={"env": "test"}), "postgresql")

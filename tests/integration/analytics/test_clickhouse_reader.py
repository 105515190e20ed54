"""The ClickHouse reader's figures, computed in SQL, against the rollup code's (compute_day).

The same events (seeded random ones and hand-made edge cases, several sites) go to the
relational store and to ClickHouse in the same order; every day's figures, daily and hourly,
must be equal whole, without filters and under filters of every dimension, positive, negated
and two at once; each dimension computed alone must equal its figures in the whole, and be
computed once per reader; the summed answers must equal RawReader's, and realtime
dashboard.realtime's.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import dashboard, dimensions, rollup
from avowal.analytics.clickhouse import connection, events, schema, sql
from avowal.analytics.clickhouse.reader import ClickHouseReader, realtime
from avowal.analytics.dimensions import DIRECT
from avowal.analytics.query import DayRange
from avowal.analytics.readers import HOURS, RawReader
from avowal.analytics.rollup import DayFigures, VisitFilter, compute_day
from avowal.db.engine import make_sessionmaker
from tests.integration.analytics.dashboard_data import (
    add_events,
    add_site,
    clickhouse_values,
    event,
    random_events,
)

FIRST = dt.date(2026, 3, 2)
DAYS = 3
RANGE = DayRange(FIRST, FIRST + dt.timedelta(days=DAYS))  # the edge cases' day after it too
EDGE = FIRST + dt.timedelta(days=DAYS)
US = dt.timedelta(microseconds=1)
LONG = "é" * 2100  # a property label past 2000 code points (and 2000 bytes)


def at(clock: str, day: dt.date = EDGE) -> dt.datetime:
    h, m, s = (int(x) for x in clock.split(":"))
    return dt.datetime.combine(day, dt.time(h, m, s), tzinfo=dt.UTC)


def custom(
    site: int, visitor: int, ts: dt.datetime, name: str, interactive: bool | None = None, **kw: Any
) -> dict[str, Any]:
    row = event(site, visitor, ts, kw.pop("path", "/"), name=name, **kw)
    row["interactive"] = interactive
    return row


def engage(
    site: int, visitor: int, ts: dt.datetime, path: str, depth: Any, ms: Any
) -> dict[str, Any]:
    return event(site, visitor, ts, path, name="engagement", scroll_depth=depth, engagement_ms=ms)


def edge_events(site: int) -> list[dict[str, Any]]:
    """Hand-made events on EDGE, each visitor one rule of visits.py and rollup.py."""
    e = event
    google = {"source": "Google", "referrer_domain": "google.com", "browser": "Firefox"}
    t0 = at("10:00:00")
    return [
        # 1: engagement inside the gap, on a viewed page and on one never viewed; another
        # past the gap (ignored); one exactly at the gap (kept); null depth and time.
        e(site, 1, t0, "/", **google),
        engage(site, 1, t0 + dt.timedelta(minutes=5), "/", 70, 12_000),
        engage(site, 1, t0 + dt.timedelta(minutes=6), "/", 40, 3_000),
        engage(site, 1, t0 + dt.timedelta(minutes=7), "/never", 90, 5_000),
        e(site, 1, t0 + dt.timedelta(minutes=10), "/docs"),
        engage(site, 1, t0 + dt.timedelta(minutes=40), "/docs", 55, 1_000),  # exactly the gap
        engage(site, 1, t0 + dt.timedelta(minutes=40) + US, "/docs", 99, 9_000),  # past it
        engage(site, 1, t0 + dt.timedelta(minutes=41), "/docs", None, None),
        # 2: an engagement before any event of the day (ignored), then a bounce with a
        # non-interactive custom event; then, 30 minutes later exactly, the same visit.
        engage(site, 2, at("09:00:00"), "/", 50, 100),
        e(site, 2, at("09:10:00"), "/landing", source="", utm_campaign=""),
        custom(site, 2, at("09:11:00"), "Scroll", interactive=False),
        e(site, 2, at("09:41:00"), "/landing"),
        # 3: a bounce un-bounced by an interactive event (None counts as interactive); then a
        # new visit 30 minutes and a microsecond later.
        e(
            site,
            3,
            at("11:00:00"),
            "/pricing",
            source="Twitter",
            device="mobile",
            utm_term="privacy",
            utm_content="banner",
        ),
        custom(site, 3, at("11:01:00"), "Signup", interactive=None, props={"plan": "pro"}),
        e(site, 3, at("11:31:00") + US, "/pricing", source="Newsletter"),
        custom(site, 3, at("11:32:00"), "Signup", interactive=True, props={"plan": "free"}),
        # 4: revenue amounts, valid and not.
        e(site, 4, at("12:00:00"), "/shop", country="DE"),
        custom(site, 4, at("12:01:00"), "Purchase", revenue_amount="12.5", revenue_currency="EUR"),
        custom(
            site, 4, at("12:02:00"), "Purchase", revenue_amount="0.0000019", revenue_currency="EUR"
        ),
        custom(site, 4, at("12:03:00"), "Purchase", revenue_amount="-3", revenue_currency="USD"),
        custom(site, 4, at("12:04:00"), "Purchase", revenue_amount="abc", revenue_currency="EUR"),
        custom(site, 4, at("12:05:00"), "Purchase", revenue_amount="7", revenue_currency=None),
        custom(site, 4, at("12:06:00"), "Refund", revenue_amount="1e3", revenue_currency="EUR"),
        # 5: properties: unicode, an "=" in a key and a value, a label past 2000 code points.
        e(site, 5, at("13:00:00"), "/ü/ñ", source="news.example.com"),
        custom(site, 5, at("13:00:10"), "Download", props={"naïve": "日本語", "a=b": "c=d"}),
        custom(site, 5, at("13:00:20"), "Download", props={"long": LONG}),
        custom(site, 5, at("13:00:30"), "Download", props={"long": LONG + "x"}),
        custom(site, 5, at("13:00:40"), "Download", props={}),
        # 6: identical timestamps: two page views and a custom event at one instant (insertion
        # order decides entry and exit), an engagement at the instant a new visit starts.
        e(site, 6, at("14:00:00"), "/a", browser="Safari"),
        e(site, 6, at("14:00:00"), "/b"),
        custom(site, 6, at("14:00:00"), "Signup"),
        engage(site, 6, at("14:40:00"), "/b", 30, 700),
        e(site, 6, at("14:40:00"), "/c"),
        engage(site, 6, at("14:40:00"), "/c", 20, 800),
        # 7: custom events only (no entry or exit page), Direct.
        custom(site, 7, at("15:00:00"), "Signup", props={"plan": "pro"}),
        custom(site, 7, at("15:20:00"), "Download"),
        # 8: a visit across midnight: the part after it is the next day's.
        e(site, 8, at("23:50:00", FIRST), "/late", source="Google"),
        e(site, 8, at("00:05:00", FIRST + dt.timedelta(days=1)), "/early"),
        # 9: the same page viewed three times, with page times, and long durations.
        e(site, 9, at("16:00:00") + 123 * US, "/blog"),
        e(site, 9, at("16:00:01"), "/blog/one"),
        e(site, 9, at("16:25:00") + 999_999 * US, "/blog"),
        e(site, 9, at("16:50:00"), "/blog"),
    ]


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def stores(sessions: sessionmaker[Session], clickhouse_url: str) -> Iterator[tuple[int, int, Any]]:
    """Store the events in both stores; yield (site, other site, ClickHouse client)."""
    with sessions.begin() as session:
        site = add_site(session)
        other = add_site(session, "other.example.com")
    rows = random_events(site, FIRST, DAYS, per_day=40)
    rows += edge_events(site)
    # Another site: the same visitors and instants must not leak into the first one's figures.
    rows += random_events(other, FIRST, DAYS, seed=99, per_day=10) + edge_events(other)
    for row in rows:
        row.setdefault("interactive", None)
    with sessions.begin() as session:
        add_events(session, rows)
    client = connection.connect(connection.parse(clickhouse_url))
    schema.upgrade(client, 3650)
    client.insert(schema.TABLE, clickhouse_values(rows), column_names=schema.COLUMNS)
    yield site, other, client


def flat(figures: DayFigures) -> tuple[Any, Any]:
    """Return a day's figures as plain values, to compare whole."""
    daily = {key: t.as_dict() for key, t in figures.daily.items()}
    hourly = {h: (t.visitors, t.visits, t.pageviews, t.events) for h, t in figures.hourly.items()}
    return daily, hourly


def filter_sets(session: Session, site: int) -> list[tuple[VisitFilter, ...]]:
    """Return filters of every dimension (a value the data has, positive and negated), pairs,
    and values chosen for the edge cases."""
    seen: dict[str, list[str]] = {}
    for day in RANGE.each():
        figures = compute_day(session, site, day, visit_minutes=30)
        for dim, value in sorted(figures.daily):
            seen.setdefault(dim, []).append(value)
    sets: list[tuple[VisitFilter, ...]] = []
    for name in dimensions.NAMES:
        values = seen[name]
        value = max(set(values), key=lambda v: (values.count(v), v))
        sets += [(VisitFilter(name, value),), (VisitFilter(name, value, negated=True),)]
    sets += [
        (VisitFilter("source", DIRECT),),
        (VisitFilter("source", DIRECT, negated=True),),
        (VisitFilter("prop", "naïve=日本語"),),
        (VisitFilter("prop", "a=b=c=d"),),
        (VisitFilter("prop", f"long={LONG}"[:2000]),),
        (VisitFilter("entry_page", "/a"), VisitFilter("exit_page", "/b")),
        (VisitFilter("exit_page", "/c"),),
        (VisitFilter("page", "/never"),),
        (VisitFilter("utm_campaign", ""),),
        (VisitFilter("page", "/it's {evil:String} \\'"),),
        (VisitFilter("source", "Google"), VisitFilter("page", "/pricing")),
        (VisitFilter("event", "Signup"), VisitFilter("device", "mobile", negated=True)),
        (VisitFilter("browser", "Firefox", negated=True), VisitFilter("prop", "plan=pro")),
        (VisitFilter("event", "Purchase"), VisitFilter("country", "DE")),
    ]
    return sets


def test_every_day_equals_compute_day(
    sessions: sessionmaker[Session], stores: tuple[int, int, Any]
) -> None:
    site, other, client = stores
    days = list(RANGE.each())
    with sessions() as session:
        sets: list[tuple[VisitFilter, ...]] = [(), *filter_sets(session, site)]
        for filters in sets:
            reader = ClickHouseReader(client, site, filters, visit_minutes=30)
            found = reader.figures(days)
            for day in days:
                expected = compute_day(session, site, day, visit_minutes=30, filters=filters)
                assert flat(found[day]) == flat(expected), (filters, day)
        # The edge cases count: not every figure is trivially empty.
        edge = flat(ClickHouseReader(client, site, visit_minutes=30).figures([EDGE])[EDGE])[0]
        assert edge[("revenue", "EUR Purchase")]["revenue_micros"] == 12_500_001
        assert edge[("revenue", "USD Purchase")]["revenue_micros"] == -3_000_000
        assert edge[("prop", f"long={LONG}"[:2000])]["events"] == 2
        assert edge[("page", "/")]["scrolls"] == 1
        # Another site's figures are its own, with a gap of another length too.
        for minutes in (30, 5):
            found = ClickHouseReader(client, other, visit_minutes=minutes).figures(days)
            for day in days:
                expected = compute_day(session, other, day, visit_minutes=minutes)
                assert flat(found[day]) == flat(expected), (minutes, day)


class Counting(ClickHouseReader):
    """A reader that notes the ranges and dimensions it asks ClickHouse for: the figures of each
    day in ``calls``, sums over days in ``summed``."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.calls: list[tuple[dt.date, dt.date, frozenset[int]]] = []
        self.summed: list[tuple[dt.date, dt.date, frozenset[int], bool]] = []

    def _query(
        self, first: dt.date, last: dt.date, wanted: frozenset[int], **options: Any
    ) -> tuple[str, dict[str, Any]] | None:
        if options.get("summed"):
            self.summed.append((first, last, wanted, options.get("values") is not None))
        else:
            self.calls.append((first, last, wanted))
        return super()._query(first, last, wanted, **options)


def only(figures: DayFigures, name: str) -> tuple[Any, Any]:
    """Return a day's figures of one dimension (HOURS: the hours) as plain values."""
    daily, hourly = flat(figures)
    if name == HOURS:
        return {}, hourly
    return {key: t for key, t in daily.items() if key[0] == name}, {}


def test_each_dimension_alone_equals_the_whole(
    sessions: sessionmaker[Session], stores: tuple[int, int, Any]
) -> None:
    site, _, client = stores
    days = list(RANGE.each())
    names = [*sql.DIMENSIONS, HOURS]
    for filters in [(), (VisitFilter("source", DIRECT, negated=True),)]:
        whole = ClickHouseReader(client, site, filters, visit_minutes=30).figures(days)
        reader = Counting(client, site, filters, visit_minutes=30)
        for name in names:
            found = reader.figures(days, [name])
            for day in days:
                assert only(found[day], name) == only(whole[day], name), (filters, name, day)
            assert reader.calls[-1] == (days[0], days[-1], frozenset([reader_index(name)]))
            # Asked again, for the range or some of its days: nothing is computed.
            calls = len(reader.calls)
            reader.figures(days, [name])
            reader.figures(days[1:2], [name])
            assert len(reader.calls) == calls
        assert len(reader.calls) == len(names)
        # Every dimension computed, the whole figures are the reader's without more statements.
        found = reader.figures(days)
        assert len(reader.calls) == len(names)
        assert {d: flat(f) for d, f in found.items()} == {d: flat(f) for d, f in whole.items()}
        assert any(whole[d].daily for d in days) and any(whole[d].hourly for d in days)
    # A reader asked for dimensions some days lack runs one statement: the dimensions any of
    # them lacks, from the first to the last of them; nothing for the days and dimensions seen.
    reader = Counting(client, site, visit_minutes=30)
    reader.figures(days[:2], ["source"])
    reader.figures(days, ["source", "page"])
    index = reader_index
    assert reader.calls == [
        (days[0], days[1], frozenset([index("source")])),
        (days[0], days[-1], frozenset([index("source"), index("page")])),
    ]
    whole = ClickHouseReader(client, site, visit_minutes=30).figures(days)
    found = reader.figures(days, ["source", "page"])
    assert len(reader.calls) == 2
    for day in days:
        for name in ("source", "page"):
            assert only(found[day], name) == only(whole[day], name), (name, day)
    reader.figures(days)
    assert reader.calls[-1] == (days[0], days[-1], sql.ALL - {index("source"), index("page")})


def reader_index(name: str) -> int:
    return sql.HOUR if name == HOURS else sql.INDEX[name]


def test_summed_answers_equal_raw_reader(
    sessions: sessionmaker[Session], stores: tuple[int, int, Any]
) -> None:
    site, _, client = stores
    with sessions() as session:
        for filters in [(), (VisitFilter("source", DIRECT, negated=True),)]:
            raw = RawReader(session, site, filters, visit_minutes=30, archived=False)
            reader = Counting(client, site, filters, visit_minutes=30)
            for days in (RANGE, DayRange(FIRST, FIRST), RANGE.previous()):
                assert {d: t.as_dict() for d, t in reader.by_day(days).items()} == {
                    d: t.as_dict() for d, t in raw.by_day(days).items()
                }
                for name in dimensions.NAMES:
                    for limit in (None, 3):
                        assert [
                            (v, t.as_dict()) for v, t in reader.breakdown(name, days, limit)
                        ] == [(v, t.as_dict()) for v, t in raw.breakdown(name, days, limit)]
                    wanted = [v for v, _ in raw.breakdown(name, days, 2)] + ["none such"]
                    assert {
                        v: t.as_dict() for v, t in reader.values(name, days, wanted).items()
                    } == {v: t.as_dict() for v, t in raw.values(name, days, wanted).items()}
                ours = {h: vars_of(t) for h, t in reader.by_hour(days).items()}
                assert ours == {h: vars_of(t) for h, t in raw.by_hour(days).items()}
            # The totals and hours: one statement per range and dimension first seen
            # (DayRange(FIRST, FIRST) is of RANGE); answers after it come from the reader's
            # days. A table: its sums over the range, once for all values per range asked (the
            # breakdown with and without a limit, then the values asked for from those sums).
            # The pages' sums come with every exit page's: the exit pages are not asked.
            assert reader.calls == [
                (r.start, r.end, frozenset([reader_index(name)]))
                for r in (RANGE, RANGE.previous())
                for name in (rollup.TOTAL, HOURS)
            ]
            page, exit_page = sql.INDEX["page"], sql.INDEX["exit_page"]
            assert reader.summed == [
                (r.start, r.end, frozenset({page, exit_page} if i == page else {i}), chosen)
                for r in (RANGE, DayRange(FIRST, FIRST), RANGE.previous())
                for i in (sql.INDEX[name] for name in dimensions.NAMES)
                for chosen in (() if i == exit_page else (False,))
            ]
            # Values asked first are asked as such, and only those.
            fresh = Counting(client, site, filters, visit_minutes=30)
            fresh.values("exit_page", RANGE, ["/", "none such"])
            assert fresh.summed == [(RANGE.start, RANGE.end, frozenset({exit_page}), True)]
            assert reader.by_day(RANGE)  # there are figures to compare


def vars_of(t: Any) -> tuple[int, ...]:
    return (t.visitors, t.visits, t.pageviews, t.events)


def test_realtime_equals_dashboard(
    sessions: sessionmaker[Session], stores: tuple[int, int, Any]
) -> None:
    site, other, client = stores
    nows = [
        at("10:20:00"),
        at("12:04:00"),
        at("14:40:00"),
        at("00:10:00", FIRST + dt.timedelta(days=1)),  # the window spans midnight
        at("16:30:00", FIRST + dt.timedelta(days=1)),
        at("16:30:00", FIRST + dt.timedelta(days=30)),  # nothing
    ]
    nows += [at("00:00:00", FIRST) + dt.timedelta(minutes=50 * i) for i in range(60)]
    with sessions() as session:
        answers = []
        for s in (site, other):
            for now in nows:
                ours = realtime(client, s, now)
                assert ours == dashboard.realtime(session, s, now), (s, now)
                answers.append(ours)
    assert any(a["visitors"] > 1 and a["pages"] for a in answers)


# The relational store only gives the expected figures here (compute_day, checked on both
# databases by test_every_day_equals_compute_day): one of them is enough.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("stored_days", [(0, 1, 2, 3), (0, 2)], ids=["all", "some"])
def test_stored_visits_give_the_same_figures(
    sessions: sessionmaker[Session], stores: tuple[int, int, Any], stored_days: tuple[int, ...]
) -> None:
    """Visits kept in analytics_visits (all days, or some: the others made from raw events in
    the same statement) give every day's figures, under every filter, as raw events do."""
    site, other, client = stores
    days = list(RANGE.each())
    for s in (site, other):
        for n in stored_days:
            events.store_visits(client, s, days[n], visit_minutes=30)
    # Made twice, a day's visits are replaced, not doubled.
    events.store_visits(client, site, days[0], visit_minutes=30)
    kept = [days[n] for n in stored_days]
    assert events.stored_visit_days(client, site, days[0], days[-1], visit_minutes=30) == kept
    assert events.stored_visit_days(client, site, days[0], days[-1], visit_minutes=5) == []
    with sessions() as session:
        sets: list[tuple[VisitFilter, ...]] = [(), *filter_sets(session, site)]
        for filters in sets:
            stored = ClickHouseReader(client, site, filters, visit_minutes=30).figures(days)
            raw = ClickHouseReader(
                client, site, filters, visit_minutes=30, stored_visits=False
            ).figures(days)
            for day in days:
                expected = compute_day(session, site, day, visit_minutes=30, filters=filters)
                assert flat(stored[day]) == flat(raw[day]) == flat(expected), (filters, day)
            # Summed over the range in ClickHouse, as the days' figures sum: a table of each
            # kind of sum (visit attributes, exit pages as entry pages, pages, custom events),
            # and the values of exit pages as the page table asks them.
            summing = ClickHouseReader(client, site, filters, visit_minutes=30)
            adding = ClickHouseReader(client, site, filters, visit_minutes=30, stored_visits=False)
            adding.figures(days)  # every day's figures known: its sums are added in Python
            for name in ("source", "device", "exit_page", "page", "event"):
                ours = [(v, t.as_dict()) for v, t in summing.breakdown(name, RANGE, None)]
                assert ours == [(v, t.as_dict()) for v, t in adding.breakdown(name, RANGE, None)]
            wanted = [v for v, _ in adding.breakdown("page", RANGE, 2)] + ["none such"]
            assert {
                v: t.as_dict() for v, t in summing.values("exit_page", RANGE, wanted).items()
            } == {v: t.as_dict() for v, t in adding.values("exit_page", RANGE, wanted).items()}
        # Visits made with another gap are not read for this one.
        found = ClickHouseReader(client, other, visit_minutes=5).figures(days)
        for day in days:
            assert flat(found[day]) == flat(compute_day(session, other, day, visit_minutes=5))
        # The stored days were read from the tables: emptied, their figures are gone, and a
        # day is read from them once it is noted as kept (after its visits and pages).
        for table in schema.DERIVED:
            client.command(f"TRUNCATE TABLE {table}")
        blank = (None,) * len(sql.ATTRIBUTE_COLUMNS)
        client.insert(
            schema.VISITS_TABLE,
            [[site, 30, kept[0], 1, 0, 0, blank, [], [], [], 0, 0, 0, 0]],
            column_names=["site_id", "visit_minutes", *sql.VISIT_COLUMNS],
        )
        client.insert(
            schema.PAGES_TABLE,
            [[site, 30, kept[0], "/fake", 1, 0, blank, 2, 0, 0, 0, 0, True, True, 2, 0, 0, 0]],
            column_names=[
                row[0] for row in client.query(f"DESCRIBE TABLE {schema.PAGES_TABLE}").result_rows
            ],
        )
        assert events.stored_visit_days(client, site, days[0], days[-1], visit_minutes=30) == []
        client.insert(
            schema.DAYS_TABLE,
            [[site, 30, kept[0]]],
            column_names=["site_id", "visit_minutes", "day"],
        )
        found = ClickHouseReader(client, site, visit_minutes=30).figures(days)
        assert found[kept[0]].daily[(rollup.TOTAL, "")].visits == 1
        assert found[kept[0]].daily[("page", "/fake")].pageviews == 2
        assert found[kept[0]].daily[("exit_page", "/fake")].pageviews == 2
        assert flat(found[days[1]]) == flat(compute_day(session, site, days[1], visit_minutes=30))


def test_an_upgrade_makes_the_pages_and_days_of_the_visits_kept_before_it(
    sessions: sessionmaker[Session], stores: tuple[int, int, Any]
) -> None:
    """A database whose visits were kept before analytics_visit_pages existed (schema step 2)
    gets their pages and days from ``avowal db upgrade``, and reads them as kept since."""
    site, other, client = stores
    days = list(RANGE.each())
    for s in (site, other):
        for day in days:
            events.store_visits(client, s, day, visit_minutes=30)
    page = (VisitFilter("page", "/pricing"),)
    expected = [
        ClickHouseReader(client, site, f, visit_minutes=30).figures(days) for f in ((), page)
    ]
    # As such a database has it: visits, and no pages, days or later steps.
    for table in (schema.PAGES_TABLE, schema.DAYS_TABLE):
        client.command(f"DROP TABLE {table}")
    client.command(
        f"ALTER TABLE {schema.MIGRATIONS_TABLE} DELETE WHERE step > 2",
        settings={"mutations_sync": 1},
    )
    # And a copy left half made by an upgrade that stopped in step 7.
    client.command(f"CREATE TABLE {schema.PAGES_TABLE}_resorted (x UInt8) ENGINE = Memory")
    done = schema.upgrade(client, 3650)
    assert done[:5] == [f"step {n}: {name}" for n, name, _ in schema.STEPS[2:]]
    # The page rows are sorted by visitor within each day (step 7), the copy gone.
    tables = dict(
        client.query(
            "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    )
    assert tables[schema.PAGES_TABLE] == schema.PAGES_ORDER
    assert f"{schema.PAGES_TABLE}_resorted" not in tables
    # Run again after stopping once the tables were swapped: the old rows left are dropped.
    client.command(f"CREATE TABLE {schema.PAGES_TABLE}_resorted (x UInt8) ENGINE = Memory")
    resort = {n: step for n, _, step in schema.STEPS}[7]
    assert callable(resort)
    resort(client)
    assert client.command(f"EXISTS TABLE {schema.PAGES_TABLE}_resorted") == 0
    for s in (site, other):
        assert events.stored_visit_days(client, s, days[0], days[-1], visit_minutes=30) == days
    with sessions() as session:
        for filters, before in zip(((), page), expected, strict=True):
            found = ClickHouseReader(client, site, filters, visit_minutes=30).figures(days)
            for day in days:
                assert flat(found[day]) == flat(before[day]), (filters, day)
                wanted = compute_day(session, site, day, visit_minutes=30, filters=filters)
                assert flat(found[day]) == flat(wanted), (filters, day)

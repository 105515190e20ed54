"""Figures estimated from a sample of visitors (avowal.analytics.sampling) on ClickHouse.

A sampled reader must give exactly the figures of the visitors in the sample, each scaled by the
same rule: they are compared with an unsampled reader over a copy of the site holding only
those visitors' events, under filters of every kind, from raw events and from stored visits.
Through the API, a large filtered range says it is sampled and from what share, ``exact=true``
and the unfiltered figures never are, and the console says so with a link to exact figures.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import dashboard, sampling, share
from avowal.analytics.clickhouse import connection, events, schema
from avowal.analytics.clickhouse.reader import ClickHouseReader
from avowal.analytics.dimensions import DIRECT
from avowal.analytics.query import DayRange, Query
from avowal.analytics.rollup import DayFigures, Tally, VisitFilter
from avowal.analytics.sampling import Sample
from avowal.db.engine import make_sessionmaker
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import (
    API,
    RANGE,
    SITE,
    add_site,
    clickhouse_values,
    random_events,
)
from tests.integration.analytics.stores import BOTH_STORES, CLICKHOUSE

FIRST = dt.date(2026, 3, 2)
DAYS = 3
DAY_RANGE = DayRange(FIRST, FIRST + dt.timedelta(days=DAYS - 1))
# The test's visitor hashes lie in [-2**62, 2**62): half of them are below this sample's bound.
HALF = Sample(0.5)
FILTERS: list[tuple[VisitFilter, ...]] = [
    (),
    (VisitFilter("source", "Google"),),
    (VisitFilter("source", DIRECT, negated=True),),
    (VisitFilter("page", "/pricing"),),
    (VisitFilter("exit_page", "/"),),
    (VisitFilter("event", "Signup"),),
    (VisitFilter("prop", "plan=pro"),),
    (VisitFilter("device", "mobile"), VisitFilter("country", "DE", negated=True)),
]


@pytest.fixture
def stores(engine: Engine, clickhouse_url: str) -> Iterator[tuple[int, int, Any]]:
    """Yield (site, the copy of its sampled visitors, ClickHouse client)."""
    sessions: sessionmaker[Session] = make_sessionmaker(engine)
    with sessions.begin() as session:
        site = add_site(session)
        copy = add_site(session, "sampled.example.com")
    client = connection.connect(connection.parse(clickhouse_url))
    schema.upgrade(client, 3650)
    rows = random_events(site, FIRST, DAYS, per_day=80)
    for row in rows:
        row.setdefault("interactive", None)
    client.insert(schema.TABLE, clickhouse_values(rows), column_names=schema.COLUMNS)
    # The same events of the visitors in the sample, under another site, in the same order.
    # (Their ids kept: events of one instant keep their order.)
    columns = [*schema.COLUMNS, "id"]
    chosen = ", ".join(str(copy) if c == "site_id" else c for c in columns)
    client.command(
        f"INSERT INTO {schema.TABLE} ({', '.join(columns)}) SELECT {chosen} FROM {schema.TABLE} "
        f"WHERE site_id = {site} AND visitor < {HALF.bound}"
    )
    yield site, copy, client


def scaled(t: Tally, sample: Sample) -> dict[str, int]:
    return {name: sample.scale(n) for name, n in t.as_dict().items()}


def flat(figures: DayFigures, sample: Sample | None = None) -> tuple[Any, Any]:
    """A day's figures as plain values, scaled when ``sample`` is given."""
    daily = {
        key: (t.as_dict() if sample is None else scaled(t, sample))
        for key, t in figures.daily.items()
    }
    hourly = {
        h: tuple(
            n if sample is None else sample.scale(n)
            for n in (t.visitors, t.visits, t.pageviews, t.events)
        )
        for h, t in figures.hourly.items()
    }
    return daily, hourly


@pytest.mark.parametrize("stored", [False, True], ids=["raw events", "stored visits"])
def test_a_sample_gives_its_visitors_figures_scaled(
    stores: tuple[int, int, Any], stored: bool
) -> None:
    site, copy, client = stores
    days = list(DAY_RANGE.each())
    if stored:  # the days' visits kept, as the worker keeps those of the days that are over
        for s in (site, copy):
            for day in days:
                events.store_visits(client, s, day, visit_minutes=30)
    everyone = ClickHouseReader(client, site, visit_minutes=30).by_day(DAY_RANGE)
    alone = ClickHouseReader(client, copy, visit_minutes=30).by_day(DAY_RANGE)
    # The sample is a real part of the visitors: neither none nor all of them.
    assert 0 < sum(t.visitors for t in alone.values()) < sum(t.visitors for t in everyone.values())
    for filters in FILTERS:

        def reader(s: int, sample: Sample | None, f: tuple[VisitFilter, ...] = filters) -> Any:
            return ClickHouseReader(client, s, f, visit_minutes=30, sample=sample)

        sampled, exact = reader(site, HALF), reader(copy, None)
        # Each day's figures, every dimension and the hours.
        found, expected = sampled.figures(days), exact.figures(days)
        for day in days:
            assert flat(found[day]) == flat(expected[day], HALF), (filters, day)
        # Summed over the range in ClickHouse, ranked, and the values a page table asks for.
        sampled, exact = reader(site, HALF), reader(copy, None)
        for name in ("source", "page", "exit_page", "country", "event", "prop"):
            assert [(v, t.as_dict()) for v, t in sampled.breakdown(name, DAY_RANGE, 5)] == [
                (v, scaled(t, HALF)) for v, t in exact.breakdown(name, DAY_RANGE, 5)
            ], (filters, name)
        wanted = ["/", "/pricing", "/none"]
        assert {
            v: t.as_dict() for v, t in sampled.values("exit_page", DAY_RANGE, wanted).items()
        } == {v: scaled(t, HALF) for v, t in exact.values("exit_page", DAY_RANGE, wanted).items()}
    # The unsampled reader of the whole site reads more than the sample: the bound applies.
    assert ClickHouseReader(client, site, visit_minutes=30).figures(days) != ClickHouseReader(
        client, site, visit_minutes=30, sample=HALF
    ).figures(days)


def test_the_sort_keys_let_a_sample_read_its_share_only(stores: tuple[int, int, Any]) -> None:
    """Every table a sampled reader reads is sorted by visitor within each day."""
    _, _, client = stores
    keys = dict(
        client.query(
            "SELECT name, sorting_key FROM system.tables WHERE database = currentDatabase()"
        ).result_rows
    )
    for table in (schema.TABLE, schema.VISITS_TABLE, schema.PAGES_TABLE):
        columns = [c.strip() for c in keys[table].split(",")]
        assert columns[columns.index("day") + 1] == "visitor", (table, columns)


# Through the API: the known data set (conftest.known), both stores.


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """Sample any filtered range with more than one visit."""
    return settings.model_copy(update={"analytics_sample_visits": 1})


@BOTH_STORES
def test_a_large_filtered_view_says_it_is_sampled_and_exact_turns_it_off(
    known: int,
    get: Callable[..., Any],
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, str],
    analytics_store: str,
    settings: Settings,
) -> None:
    unfiltered = get("summary")
    assert unfiltered["sample_percent"] is None  # from the rollups: always exact
    visits = unfiltered["totals"]["visits"]
    assert visits > 1
    google = {"filter": "source:Google"}
    paths = ("summary", "timeseries", "breakdown/page", "breakdown/source")
    exact = {path: get(path, exact="true", **google) for path in paths}
    assert all(answer["sample_percent"] is None for answer in exact.values())
    filters = (VisitFilter("source", "Google"),)
    q = Query(known, SITE, DayRange(dt.date(2026, 3, 10), dt.date(2026, 3, 12)), False, filters)
    # Neither has the Stats API: its figures are the exact ones.
    stats = client.get(
        "/api/v1/stats/aggregate",
        params={
            "site_id": SITE,
            "period": "custom",
            "date": f"{RANGE['from']},{RANGE['to']}",
            "metrics": "visitors,visits,pageviews",
            "filters": "visit:source==Google",
        },
        headers={"Authorization": f"Bearer {tokens['reporting_service']}"},
    )
    assert stats.status_code == 200, stats.text
    assert {k: v["value"] for k, v in stats.json()["results"].items()} == {
        k: exact["summary"]["totals"][k] for k in ("visitors", "visits", "pageviews")
    }
    # A CSV export has nowhere to say it is an estimate: it is always exact.
    csv = {
        exactly: client.get(
            f"{API}/export.csv",
            params={**RANGE, **google, "table": "page", **({"exact": "true"} if exactly else {})},
            headers={"Authorization": f"Bearer {tokens['reporting_service']}"},
        )
        for exactly in (False, True)
    }
    assert csv[False].status_code == 200 and csv[False].text == csv[True].text
    assert len(csv[True].text.splitlines()) > 1
    with app.state.sessionmaker.begin() as session:
        token = share.create(session, SITE)
    page = client.get(f"/share/{token}", params={**RANGE, **google}).text
    if analytics_store == CLICKHOUSE:
        expected = sampling.choose(visits, settings.analytics_sample_visits)
        assert expected is not None
        store = events.of(settings)
        assert store is not None
        for path in paths:
            assert get(path, **google)["sample_percent"] == expected.percent, path
        assert get("breakdown/page", **google)["rows"] != exact["breakdown/page"]["rows"]
        # The figures are the sample's, and the exact ones those of every visitor.
        for sample, answer in ((expected, get("summary", **google)), (None, exact["summary"])):
            reader = ClickHouseReader(
                store.client(), known, filters, visit_minutes=30, sample=sample
            )
            assert answer["totals"] == dashboard.summary(reader, q)["totals"]
        assert exact["summary"]["totals"]["visits"] > 0
        # The page says so, with a link to the exact figures, which keeps the filters.
        assert f"Estimated from {expected.percent:g}% of the visitors" in page
        link = f"/share/{token}?from=2026-03-10&amp;to=2026-03-12&amp;filter=source%3AGoogle"
        assert f'{link}&amp;exact=true">Show exact figures</a>' in page
        exact_page = client.get(f"/share/{token}", params={**RANGE, **google, "exact": "true"}).text
        assert "Estimated from" not in exact_page
        assert '<input type="hidden" name="exact" value="true">' in exact_page
    else:
        # The database store computes filtered days from raw events: exact, never sampled.
        for path in paths:
            assert get(path, **google) == exact[path], path
        assert "Estimated from" not in page


def test_choose_reads_about_the_limit() -> None:
    assert sampling.choose(10, 0) is None
    assert sampling.choose(500, 500) is None
    assert sampling.choose(3_850_000, 500_000) == Sample(0.12)
    assert sampling.choose(10**12, 500_000) == Sample(sampling.MIN_FRACTION)
    assert Sample(0.5).bound == 0
    assert Sample(0.25).bound == -(2**62)
    assert Sample(0.12).scale(7) == 58
    for wrong in (0.0, 1.0, 0.001, 2.0):
        with pytest.raises(ValueError, match="fraction"):
            Sample(wrong)

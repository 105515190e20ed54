"""Every dashboard figure on a small hand-written data set; the API's rules; share links.

The data set (site www.example.com; the range is 10-12 March 2026, "now" 13 March 12:00 UTC):

=====  ========  =====================================================  ========================
visit  day       events                                                 source, device, ...
=====  ========  =====================================================  ========================
A1     10 Mar    10:00 /, 10:01 /pricing, 10:03 Signup{plan=pro},        Google (google.com),
                 10:05 /docs -- 3 views, 300 s, entry /, exit /docs      utm news/email/spring,
                                                                        Firefox Linux desktop DE
A2     10 Mar    11:00 /blog (55 min later: a new visit) -- bounce       direct, Firefox Linux DE
B1     10 Mar    12:00 / -- bounce                                       Twitter (t.co), Chrome
                                                                        Android mobile FR
C1     11 Mar    09:00 /pricing, 09:00:30 /, 09:30:30 /docs (a gap of    Google (google.com),
                 exactly 30 min keeps the visit) -- 3 views, 1830 s      Safari iOS mobile, no
                                                                        country
A'1    11 Mar    15:00 / -- bounce (visitor hash 1 again, another day)   direct, Firefox Linux DE
D1     12 Mar    23:50 / -- bounce                                       direct, Firefox Windows
                                                                        desktop CA
E1     12 Mar    08:00 /blog, 08:02 Download -- 1 view + event: no       Newsletter, utm
                 bounce, 120 s                                          news/email/spring, Chrome
                                                                        macOS desktop DE
=====  ========  =====================================================  ========================

Previous period (7-9 March): 8 Mar / (Google, bounce); 9 Mar /pricing, 10:10 /docs (direct, 600 s).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from avowal.analytics import dashboard, share
from avowal.analytics.query import DayRange, Query
from avowal.analytics.readers import RawReader, RollupReader
from avowal.cli import app as cli_app
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import (
    API,
    RANGE,
    SITE,
)
from tests.integration.analytics.stores import BOTH_STORES, DATABASE_ONLY

# Every figure, with the events in the database and in ClickHouse.
pytestmark = BOTH_STORES


@pytest.fixture
def marketing(client: TestClient, tokens: dict[str, str]) -> Callable[..., Any]:
    """GET an API path as the marketing role; return the JSON (asserting 200)."""

    def get(path: str, **params: Any) -> Any:
        answer = client.get(
            path, params=params, headers={"Authorization": f"Bearer {tokens['reporting_service']}"}
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    return get


TOTALS = {
    "visitors": 6,
    "visits": 7,
    "pageviews": 11,
    "events": 2,
    "bounce_rate": 57.1,
    "visit_duration": 321,
    "views_per_visit": 1.57,
}
PREVIOUS = {
    "visitors": 2,
    "visits": 2,
    "pageviews": 3,
    "events": 0,
    "bounce_rate": 50.0,
    "visit_duration": 300,
    "views_per_visit": 1.5,
}


def test_summary_with_comparison(
    known: int, marketing: Callable[..., Any], basis: Callable[[str], str]
) -> None:
    got = marketing(f"{API}/summary", **RANGE, compare="previous")
    assert got == {
        "site": SITE,
        "from": "2026-03-10",
        "to": "2026-03-12",
        "days": 3,
        "filters": [],
        "basis": basis("rollups"),
        "sample_percent": None,
        "totals": TOTALS,
        "previous": {"from": "2026-03-07", "to": "2026-03-09", "totals": PREVIOUS},
        "change": {
            "visitors": 200.0,
            "visits": 250.0,
            "pageviews": 266.7,
            "events": None,
            "bounce_rate": 7.1,
            "visit_duration": 7.0,
            "views_per_visit": 4.7,
        },
    }
    plain = marketing(f"{API}/summary", **RANGE)
    assert plain["totals"] == TOTALS
    assert plain["previous"] is None and plain["change"] is None


def _rows(marketing: Callable[..., Any], dimension: str, **params: Any) -> list[dict[str, Any]]:
    got = marketing(f"{API}/breakdown/{dimension}", **{**RANGE, **params})
    assert got["dimension"] == dimension
    rows: list[dict[str, Any]] = got["rows"]
    return rows


def visit_row(
    value: str, visitors: int, visits: int, pv: int, br: float, dur: int
) -> dict[str, Any]:
    return {
        "value": value,
        "visitors": visitors,
        "visits": visits,
        "pageviews": pv,
        "bounce_rate": br,
        "visit_duration": dur,
    }


EXPECTED_TABLES: dict[str, list[dict[str, Any]]] = {
    "page": [
        {
            "value": "/",
            "visitors": 5,
            "visits": 5,
            "pageviews": 5,
            "bounce_rate": 60.0,
            "time_on_page": 930,
        },
        {
            "value": "/blog",
            "visitors": 2,
            "visits": 2,
            "pageviews": 2,
            "bounce_rate": 50.0,
            "time_on_page": None,
        },
        {
            "value": "/docs",
            "visitors": 2,
            "visits": 2,
            "pageviews": 2,
            "bounce_rate": 0.0,
            "time_on_page": None,
        },
        {
            "value": "/pricing",
            "visitors": 2,
            "visits": 2,
            "pageviews": 2,
            "bounce_rate": 0.0,
            "time_on_page": 135,
        },
    ],
    "entry_page": [
        {"value": "/", "visitors": 4, "entrances": 4, "bounce_rate": 75.0, "visit_duration": 75},
        {
            "value": "/blog",
            "visitors": 2,
            "entrances": 2,
            "bounce_rate": 50.0,
            "visit_duration": 60,
        },
        {
            "value": "/pricing",
            "visitors": 1,
            "entrances": 1,
            "bounce_rate": 0.0,
            "visit_duration": 1830,
        },
    ],
    "exit_page": [
        {"value": "/", "visitors": 3, "exits": 3, "exit_rate": 60.0},
        {"value": "/docs", "visitors": 2, "exits": 2, "exit_rate": 100.0},
        {"value": "/blog", "visitors": 2, "exits": 2, "exit_rate": 100.0},
    ],
    "source": [
        visit_row("Direct / None", 3, 3, 3, 100.0, 0),
        visit_row("Google", 2, 2, 6, 0.0, 1065),
        visit_row("Newsletter", 1, 1, 1, 0.0, 120),
        visit_row("Twitter", 1, 1, 1, 100.0, 0),
    ],
    "referrer": [visit_row("google.com", 2, 2, 6, 0.0, 1065), visit_row("t.co", 1, 1, 1, 100.0, 0)],
    "utm_source": [visit_row("news", 2, 2, 4, 0.0, 210)],
    "utm_medium": [visit_row("email", 2, 2, 4, 0.0, 210)],
    "utm_campaign": [visit_row("spring", 2, 2, 4, 0.0, 210)],
    "utm_term": [],
    "utm_content": [],
    "browser": [
        visit_row("Firefox", 3, 4, 6, 75.0, 75),
        visit_row("Chrome", 2, 2, 2, 50.0, 60),
        visit_row("Safari", 1, 1, 3, 0.0, 1830),
    ],
    "os": [
        visit_row("Linux", 2, 3, 5, 66.7, 100),
        visit_row("iOS", 1, 1, 3, 0.0, 1830),
        visit_row("macOS", 1, 1, 1, 0.0, 120),
        visit_row("Android", 1, 1, 1, 100.0, 0),
        visit_row("Windows", 1, 1, 1, 100.0, 0),
    ],
    "device": [
        visit_row("desktop", 4, 5, 7, 60.0, 84),
        visit_row("mobile", 2, 2, 4, 50.0, 915),
    ],
    "country": [
        visit_row("DE", 3, 4, 6, 50.0, 105),
        visit_row("CA", 1, 1, 1, 100.0, 0),
        visit_row("FR", 1, 1, 1, 100.0, 0),
    ],
    "event": [
        {"value": "Download", "visitors": 1, "visits": 1, "events": 1, "conversion_rate": 16.7},
        {"value": "Signup", "visitors": 1, "visits": 1, "events": 1, "conversion_rate": 16.7},
    ],
    "prop": [
        {"value": "plan=pro", "visitors": 1, "visits": 1, "events": 1, "conversion_rate": 16.7}
    ],
}


@pytest.mark.parametrize("dimension", sorted(EXPECTED_TABLES))
def test_every_table(known: int, marketing: Callable[..., Any], dimension: str) -> None:
    assert _rows(marketing, dimension) == EXPECTED_TABLES[dimension]


def test_tables_are_ranked_and_limited(known: int, marketing: Callable[..., Any]) -> None:
    assert [r["value"] for r in _rows(marketing, "page", limit=2)] == ["/", "/blog"]


DAILY = [
    {
        "t": "2026-03-10",
        "visitors": 2,
        "visits": 3,
        "pageviews": 5,
        "events": 1,
        "bounce_rate": 66.7,
        "visit_duration": 100,
    },
    {
        "t": "2026-03-11",
        "visitors": 2,
        "visits": 2,
        "pageviews": 4,
        "events": 0,
        "bounce_rate": 50.0,
        "visit_duration": 915,
    },
    {
        "t": "2026-03-12",
        "visitors": 2,
        "visits": 2,
        "pageviews": 2,
        "events": 1,
        "bounce_rate": 50.0,
        "visit_duration": 60,
    },
]


def test_daily_series_with_the_previous_period(known: int, marketing: Callable[..., Any]) -> None:
    got = marketing(f"{API}/timeseries", **RANGE, compare="previous")
    assert got["interval"] == "day"
    assert got["points"] == DAILY
    assert got["previous"] == [
        {
            "t": "2026-03-07",
            "visitors": 0,
            "visits": 0,
            "pageviews": 0,
            "events": 0,
            "bounce_rate": None,
            "visit_duration": None,
        },
        {
            "t": "2026-03-08",
            "visitors": 1,
            "visits": 1,
            "pageviews": 1,
            "events": 0,
            "bounce_rate": 100.0,
            "visit_duration": 0,
        },
        {
            "t": "2026-03-09",
            "visitors": 1,
            "visits": 1,
            "pageviews": 2,
            "events": 0,
            "bounce_rate": 0.0,
            "visit_duration": 600,
        },
    ]


def test_hourly_series_for_a_day(known: int, marketing: Callable[..., Any]) -> None:
    got = marketing(f"{API}/timeseries", **{"from": "2026-03-10", "to": "2026-03-10"})
    assert got["interval"] == "hour"
    assert len(got["points"]) == 24
    busy = {
        p["t"]: (p["visitors"], p["visits"], p["pageviews"], p["events"])
        for p in got["points"]
        if p["visitors"]
    }
    assert busy == {
        "2026-03-10T10:00:00Z": (1, 1, 3, 1),
        "2026-03-10T11:00:00Z": (1, 1, 1, 0),
        "2026-03-10T12:00:00Z": (1, 1, 1, 0),
    }
    two_days = marketing(f"{API}/timeseries", **{"from": "2026-03-11", "to": "2026-03-12"})
    assert two_days["interval"] == "hour" and len(two_days["points"]) == 48


def test_source_filter(
    known: int, marketing: Callable[..., Any], basis: Callable[[str], str]
) -> None:
    got = marketing(f"{API}/summary", **RANGE, filter="source:Google")
    assert got["basis"] == basis("raw_events")
    assert got["filters"] == ["source:Google"]
    assert got["totals"] == {
        "visitors": 2,
        "visits": 2,
        "pageviews": 6,
        "events": 1,
        "bounce_rate": 0.0,
        "visit_duration": 1065,
        "views_per_visit": 3.0,
    }
    pages = _rows(marketing, "page", filter="source:Google")
    assert [(r["value"], r["visitors"], r["pageviews"]) for r in pages] == [
        ("/", 2, 2),
        ("/docs", 2, 2),
        ("/pricing", 2, 2),
    ]


def test_page_filter_selects_visits_that_viewed_the_page(
    known: int, marketing: Callable[..., Any]
) -> None:
    got = marketing(f"{API}/summary", **RANGE, filter="page:/blog", compare="previous")
    assert got["totals"] == {
        "visitors": 2,
        "visits": 2,
        "pageviews": 2,
        "events": 1,
        "bounce_rate": 50.0,
        "visit_duration": 60,
        "views_per_visit": 1.0,
    }
    assert got["previous"]["totals"]["visits"] == 0
    sources = _rows(marketing, "source", filter="page:/blog")
    assert [(r["value"], r["visits"]) for r in sources] == [("Newsletter", 1), ("Direct / None", 1)]
    both = marketing(f"{API}/summary", **RANGE, filter=["page:/pricing", "source:Google"])
    assert both["totals"]["visits"] == 2 and both["filters"] == ["page:/pricing", "source:Google"]
    series = marketing(f"{API}/timeseries", **RANGE, filter="page:/blog")
    assert [p["visits"] for p in series["points"]] == [1, 0, 1]


@DATABASE_ONLY  # the database store's two readers; ClickHouse's: test_clickhouse_reader
def test_unfiltered_raw_figures_equal_the_rollups(app: FastAPI, known: int) -> None:
    """The filter path (raw events) and the rollups agree when nothing is filtered out."""
    query = Query(known, SITE, DayRange(dt.date(2026, 3, 7), dt.date(2026, 3, 13)), True, ())
    with app.state.sessionmaker() as session:
        raw = RawReader(session, known, (), visit_minutes=30)
        rolled = RollupReader(session, known)
        assert dashboard.summary(raw, query)["totals"] == dashboard.summary(rolled, query)["totals"]
        for dimension in dashboard.BREAKDOWNS:
            a = dashboard.breakdown_rows(raw, dimension, query.range, None)
            b = dashboard.breakdown_rows(rolled, dimension, query.range, None)
            assert a == b, dimension
        day = DayRange(dt.date(2026, 3, 11), dt.date(2026, 3, 12))
        assert {k: vars_of(v) for k, v in raw.by_hour(day).items()} == {
            k: vars_of(v) for k, v in rolled.by_hour(day).items()
        }


def vars_of(t: Any) -> tuple[int, ...]:
    return (t.visitors, t.visits, t.pageviews, t.events)


def test_realtime(known: int, marketing: Callable[..., Any]) -> None:
    assert marketing(f"{API}/realtime") == {
        "minutes": 30,
        "since": "2026-03-13T11:30:00Z",
        "visitors": 2,
        "pageviews": 3,
        "pages": [{"value": "/", "visitors": 2}, {"value": "/pricing", "visitors": 1}],
    }


def _csv(client: TestClient, tokens: dict[str, str], path: str, **params: Any) -> str:
    answer = client.get(
        path, params=params, headers={"Authorization": f"Bearer {tokens['reporting_service']}"}
    )
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"] == "text/csv; charset=utf-8"
    return answer.text


def test_csv_export(known: int, client: TestClient, tokens: dict[str, str]) -> None:
    text = _csv(client, tokens, f"{API}/export.csv", table="source", **RANGE)
    assert text == (
        "value,visitors,visits,pageviews,bounce_rate,visit_duration\r\n"
        "Direct / None,3,3,3,100.0,0\r\n"
        "Google,2,2,6,0.0,1065\r\n"
        "Newsletter,1,1,1,0.0,120\r\n"
        "Twitter,1,1,1,100.0,0\r\n"
    )
    series = _csv(client, tokens, f"{API}/export.csv", table="timeseries", **RANGE)
    assert series.splitlines() == [
        "t,visitors,visits,pageviews,events,bounce_rate,visit_duration",
        "2026-03-10,2,3,5,1,66.7,100",
        "2026-03-11,2,2,4,0,50.0,915",
        "2026-03-12,2,2,2,1,50.0,60",
    ]
    pages = _csv(
        client, tokens, f"{API}/export.csv", table="exit_page", filter="source:Google", **RANGE
    )
    assert pages.splitlines() == ["value,visitors,exits,exit_rate", "/docs,2,2,100.0"]
    empty = _csv(client, tokens, f"{API}/export.csv", table="utm_term", **RANGE)
    assert empty == "value,visitors,visits,pageviews,bounce_rate,visit_duration\r\n"
    download = client.get(
        f"{API}/export.csv",
        params={"table": "page", **RANGE},
        headers={"Authorization": f"Bearer {tokens['reporting_service']}"},
    )
    assert download.headers["content-disposition"] == (
        f'attachment; filename="{SITE}-page-2026-03-10-2026-03-12.csv"'
    )


def test_csv_defuses_formulas() -> None:
    text = dashboard.to_csv([{"value": "=HYPERLINK(1)", "n": 1}, {"value": "-2", "n": -2}])
    assert text.splitlines() == ["value,n", "'=HYPERLINK(1),1", "'-2,-2"]


def test_default_range_is_the_last_30_days(known: int, marketing: Callable[..., Any]) -> None:
    got = marketing(f"{API}/summary")
    assert (got["from"], got["to"], got["days"]) == ("2026-02-12", "2026-03-13", 30)
    # 13 March's realtime visitors are rolled up too: 2 + 6 + 3 (20, 21, 22).
    assert got["totals"]["visitors"] == 2 + 6 + 3


def test_api_needs_a_token_whose_role_grants_analytics(
    known: int, client: TestClient, tokens: dict[str, str]
) -> None:
    assert client.get(f"{API}/summary").status_code == 401
    refused = client.get(
        f"{API}/summary", headers={"Authorization": f"Bearer {tokens['newsletter_service']}"}
    )
    assert refused.status_code == 403
    assert refused.json()["error"] == "purpose_not_granted"
    assert refused.json()["purpose"] == "analytics.reporting"
    for role in ("reporting_service",):
        ok = client.get(f"{API}/summary", headers={"Authorization": f"Bearer {tokens[role]}"})
        assert ok.status_code == 200, role
    listed = client.get(
        "/v1/analytics/sites", headers={"Authorization": f"Bearer {tokens['reporting_service']}"}
    )
    assert {"domain": SITE, "shared": False} in listed.json()["sites"]


@pytest.mark.parametrize(
    ("params", "field", "words"),
    [
        ({"from": "2026-13-01"}, "from", "YYYY-MM-DD"),
        ({"to": "yesterday"}, "to", "YYYY-MM-DD"),
        ({"from": "2026-03-12", "to": "2026-03-10"}, "from", "after"),
        ({"from": "2025-01-01", "to": "2026-03-12"}, "to", "at most 366"),
        ({"compare": "last-year"}, "compare", "previous"),
        ({"filter": "colour:red"}, "filter", "names no dimension 'colour'"),
        ({"filter": "country"}, "filter", "kind:value or kind!:value"),
        ({"filter": "page:"}, "filter", "has no value"),
        ({"filter": "prop:plan"}, "filter", "prop:key=value"),
        ({"filter": "event!:" + "x" * 2001}, "filter", "over 2000 characters"),
        (
            {"filter": "source:Google", "from": "2026-01-01", "to": "2026-01-31"},
            "filter",
            "kept 30 days",
        ),
    ],
)
def test_bad_parameters_are_refused_by_name(
    known: int,
    client: TestClient,
    tokens: dict[str, str],
    params: dict[str, str],
    field: str,
    words: str,
) -> None:
    answer = client.get(
        f"{API}/summary",
        params=params,
        headers={"Authorization": f"Bearer {tokens['reporting_service']}"},
    )
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert body["error"] == "invalid_query"
    assert body["field"] == field
    assert words in body["message"]


def test_unknown_site_dimension_and_table(
    known: int, client: TestClient, tokens: dict[str, str]
) -> None:
    auth = {"Authorization": f"Bearer {tokens['reporting_service']}"}
    missing = client.get("/v1/analytics/sites/nope.example.com/summary", headers=auth)
    assert missing.status_code == 404 and missing.json()["error"] == "unknown_site"
    dimension = client.get(f"{API}/breakdown/colour", headers=auth)
    assert dimension.status_code == 404 and dimension.json()["error"] == "unknown_dimension"
    table = client.get(f"{API}/export.csv", params={"table": "colour"}, headers=auth)
    assert table.status_code == 400 and table.json()["field"] == "table"


def test_share_link_opens_one_site_without_a_token_until_unshared(
    app: FastAPI, known: int, client: TestClient
) -> None:
    with app.state.sessionmaker.begin() as session:
        token = share.create(session, SITE)
    base = f"/v1/analytics/share/{token}"
    assert client.get(f"{base}/summary", params=RANGE).json()["totals"] == TOTALS
    pages = client.get(f"{base}/breakdown/page", params=RANGE).json()["rows"]
    assert pages == EXPECTED_TABLES["page"]
    assert client.get(f"{base}/realtime").json()["visitors"] == 2
    assert client.get(f"{base}/export.csv", params={"table": "device", **RANGE}).text.startswith(
        "value,visitors,visits,pageviews,bounce_rate,visit_duration\r\ndesktop,4,5,7,60.0,84"
    )
    page = client.get(f"/share/{token}", params=RANGE)
    assert page.status_code == 200
    assert "www.example.com analytics" in page.text
    assert 'data-points="3"' in page.text
    assert page.headers["cache-control"].startswith("no-store")
    # The share link reads one site only; another token is refused.
    assert client.get(f"/v1/analytics/share/{'x' * 43}/summary").status_code == 404
    assert client.get(f"/share/{'x' * 43}").status_code == 404

    with app.state.sessionmaker.begin() as session:
        assert share.revoke(session, SITE) is True
    gone = client.get(f"{base}/summary")
    assert gone.status_code == 404 and gone.json()["error"] == "share_link_invalid"
    assert client.get(f"/share/{token}").status_code == 404


def test_share_cli(
    known: int, client: TestClient, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))
    monkeypatch.setenv("AVOWAL_PUBLIC_URL", "https://avowal.example.com")
    runner = CliRunner()
    made = runner.invoke(cli_app, ["analytics", "share", SITE])
    assert made.exit_code == 0, made.output
    found = re.search(r"https://avowal\.example\.com/share/([A-Za-z0-9_-]{43})", made.stdout)
    assert found is not None, made.output
    assert client.get(f"/v1/analytics/share/{found.group(1)}/summary").status_code == 200
    ended = runner.invoke(cli_app, ["analytics", "unshare", SITE])
    assert ended.exit_code == 0 and "ended" in ended.output
    assert client.get(f"/v1/analytics/share/{found.group(1)}/summary").status_code == 404
    unknown = runner.invoke(cli_app, ["analytics", "share", "nope.example.com"])
    assert unknown.exit_code == 1 and "no analytics site" in unknown.output

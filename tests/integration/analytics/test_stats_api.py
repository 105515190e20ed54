"""Plausible's Stats API (v1 and v2) on the dashboard's data set, against the dashboard itself.

The data set is test_dashboard.py's (site www.example.com, 7-13 March 2026, "now" 13 March
12:00 UTC). Requests are the examples of Plausible's published docs (docs/stats-api-v1.md and
the v2 examples of plausible/docs), with our site and dates; each answer must have the documented
shape, and its figures must be the dashboard's JSON API's for the same range and filters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi.testclient import TestClient

from tests.integration.analytics.dashboard_data import API, RANGE, SITE
from tests.integration.analytics.stores import BOTH_STORES

# Every figure, with the events in the database and in ClickHouse.
pytestmark = BOTH_STORES

CUSTOM = {"period": "custom", "date": "2026-03-10,2026-03-12"}
DATE_RANGE = ["2026-03-10", "2026-03-12"]
# Plausible's property -> the dashboard's dimension.
PROPERTIES = {
    "event:page": "page",
    "visit:entry_page": "entry_page",
    "visit:exit_page": "exit_page",
    "visit:source": "source",
    "visit:referrer": "referrer",
    "visit:utm_source": "utm_source",
    "visit:utm_medium": "utm_medium",
    "visit:utm_campaign": "utm_campaign",
    "visit:device": "device",
    "visit:browser": "browser",
    "visit:os": "os",
    "visit:country": "country",
}
VISIT_METRICS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration"]

Get = Callable[..., Any]


@pytest.fixture
def bearer(tokens: dict[str, str]) -> dict[str, str]:
    """The reporting job's token, whose role grants analytics.reporting."""
    return {"Authorization": f"Bearer {tokens['reporting_service']}"}


@pytest.fixture
def v1(client: TestClient, bearer: dict[str, str]) -> Get:
    """GET a v1 Stats API endpoint for the site; return the JSON (asserting 200)."""

    def get(endpoint: str, **params: Any) -> Any:
        answer = client.get(
            f"/api/v1/stats/{endpoint}", params={"site_id": SITE, **params}, headers=bearer
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    return get


@pytest.fixture
def v2(client: TestClient, bearer: dict[str, str]) -> Get:
    """POST a v2 query for the site; return the JSON (asserting 200)."""

    def post(**body: Any) -> Any:
        answer = client.post("/api/v2/query", json={"site_id": SITE, **body}, headers=bearer)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return post


@pytest.fixture
def dash(client: TestClient, bearer: dict[str, str]) -> Get:
    """GET the dashboard's JSON API for the site; return the JSON (asserting 200)."""

    def get(path: str, **params: Any) -> Any:
        answer = client.get(f"{API}/{path}", params=params, headers=bearer)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return get


def refusal(answer: httpx.Response, status: int) -> str:
    """Assert a refusal in Plausible's shape; return its message."""
    assert answer.status_code == status, answer.text
    body = answer.json()
    assert list(body) == ["error"] and isinstance(body["error"], str), body
    message: str = body["error"]
    return message


# -- Plausible's documented examples -------------------------------------------------------------


def test_v1_documented_examples_answer_in_their_shapes(known: int, v1: Get, dash: Get) -> None:
    # "GET /api/v1/stats/realtime/visitors": a bare number.
    assert v1("realtime/visitors") == 2
    # Aggregate, "period=6mo&metrics=visitors,pageviews,bounce_rate,visit_duration".
    metrics = "visitors,pageviews,bounce_rate,visit_duration"
    got = v1("aggregate", period="6mo", metrics=metrics)
    assert set(got) == {"results"}
    assert set(got["results"]) == set(metrics.split(","))
    assert all(set(m) == {"value"} for m in got["results"].values())
    assert got["results"]["pageviews"] == {"value": 18}  # 8-13 March, realtime events included
    # Timeseries, "period=6mo": one row per month (October to March), empty months included.
    series = v1("timeseries", period="6mo")["results"]
    assert [r["date"] for r in series] == [
        "2025-10-01",
        "2025-11-01",
        "2025-12-01",
        "2026-01-01",
        "2026-02-01",
        "2026-03-01",
    ]
    assert all(set(r) == {"date", "visitors"} for r in series)
    assert [r["visitors"] for r in series] == [0, 0, 0, 0, 0, 11]
    # Breakdown, "period=6mo&property=visit:source&metrics=visitors,bounce_rate&limit=5".
    rows = v1(
        "breakdown", period="6mo", property="visit:source", metrics="visitors,bounce_rate", limit=5
    )["results"]
    assert all(set(r) == {"source", "visitors", "bounce_rate"} for r in rows)
    six_months = {"from": "2025-10-01", "to": "2026-03-31"}
    table = dash("breakdown/source", **six_months)["rows"]
    assert rows == [
        {"source": r["value"], "visitors": r["visitors"], "bounce_rate": r["bounce_rate"]}
        for r in table
    ]
    # Top pages, "period=6mo&property=event:page&limit=5".
    pages = v1("breakdown", period="6mo", property="event:page", limit=5)["results"]
    assert pages == [
        {"page": r["value"], "visitors": r["visitors"]}
        for r in dash("breakdown/page", **six_months)["rows"]
    ]
    # Visitors to a page, "filters=event:page==/order/confirmation" (within the raw events kept).
    got = v1("aggregate", period="7d", filters="event:page==/pricing")
    week = {"from": "2026-03-07", "to": "2026-03-13"}
    pricing = dash("summary", **week, filter="page:/pricing")["totals"]["visitors"]
    assert got == {"results": {"visitors": {"value": pricing}}} and pricing == 4
    # Traffic from Google, "filters=visit:source==Google" (a daily series of the last 7 days).
    google = v1("timeseries", period="7d", filters="visit:source==Google")["results"]
    assert [r["visitors"] for r in google] == [0, 1, 0, 1, 1, 0, 0]
    # Custom properties, "property=event:props:method": the property's own name as key.
    assert v1("breakdown", **CUSTOM, property="event:props:plan")["results"] == [
        {"plan": "pro", "visitors": 1}
    ]
    # "property=event:props:method&filters=event:name==Download", within the raw events kept.
    signup = v1("breakdown", **CUSTOM, property="event:props:plan", filters="event:goal==Signup")
    assert signup["results"] == [{"plan": "pro", "visitors": 1}]
    download = v1(
        "breakdown", **CUSTOM, property="event:props:plan", filters="event:name==Download"
    )
    assert download["results"] == []


def test_v1_documented_examples_avowal_cannot_answer_name_why(
    known: int, client: TestClient, bearer: dict[str, str]
) -> None:
    def get(**params: Any) -> str:
        answer = client.get(
            "/api/v1/stats/breakdown", params={"site_id": SITE, **params}, headers=bearer
        )
        return refusal(answer, 400)

    # "period=6mo&filters=visit:source==Google": filters read raw events, kept 30 days.
    message = get(period="6mo", property="event:page", filters="visit:source==Google")
    assert "raw events" in message and "30 days" in message


V2_AGGREGATE = {"metrics": ["visitors", "events"], "date_range": "7d"}
V2_QUERY_KEYS = {"site_id", "metrics", "date_range", "filters", "dimensions", "order_by", "include"}


def test_v2_documented_examples_answer_in_their_shapes(known: int, v2: Get) -> None:
    # "Simple aggregate query": 7d is the 7 days before today (6-12 March).
    got = v2(**V2_AGGREGATE)
    assert got == {
        "results": [{"metrics": [8, 16], "dimensions": []}],
        "meta": {},
        "query": {
            "site_id": SITE,
            "metrics": ["visitors", "events"],
            "date_range": ["2026-03-06T00:00:00+00:00", "2026-03-12T23:59:59+00:00"],
            "filters": [],
            "dimensions": [],
            "order_by": [["visitors", "desc"]],
            "include": {},
        },
    }
    # "Custom date range".
    got = v2(metrics=["visitors"], date_range=DATE_RANGE)
    assert got["results"] == [{"metrics": [6], "dimensions": []}]
    assert got["query"]["date_range"] == ["2026-03-10T00:00:00+00:00", "2026-03-12T23:59:59+00:00"]
    # "Timeseries query" (with a filter avowal has: the source).
    got = v2(
        metrics=["visitors", "events"],
        date_range="7d",
        filters=[["is", "visit:source", ["Google"]]],
        dimensions=["time:day"],
    )
    assert got["results"] == [
        {"metrics": [1, 1], "dimensions": ["2026-03-08"]},
        {"metrics": [1, 4], "dimensions": ["2026-03-10"]},
        {"metrics": [1, 3], "dimensions": ["2026-03-11"]},
    ]
    assert got["query"]["order_by"] == [["time:day", "asc"], ["visitors", "desc"]]
    # "Timeseries query hourly, with labels".
    got = v2(
        metrics=["visitors"],
        date_range="day",
        dimensions=["time:hour"],
        include={"time_labels": True},
    )
    assert got["results"] == [
        {"metrics": [3], "dimensions": ["2026-03-13 11:00:00"]},
    ]
    assert len(got["meta"]["time_labels"]) == 24
    assert got["meta"]["time_labels"][0] == "2026-03-13 00:00:00"
    # "Using custom properties", ordered as given.
    got = v2(
        metrics=["visitors"],
        date_range=DATE_RANGE,
        dimensions=["time:day", "event:props:plan"],
        order_by=[["time:day", "asc"], ["event:props:plan", "desc"]],
    )
    assert got["results"] == [{"metrics": [1], "dimensions": ["2026-03-10", "pro"]}]
    # "Pagination", with one dimension.
    got = v2(
        metrics=["visitors", "events", "pageviews"],
        date_range=DATE_RANGE,
        dimensions=["visit:source"],
        include={"total_rows": True},
        pagination={"limit": 2, "offset": 1},
    )
    assert got["meta"] == {"total_rows": 4}
    assert got["query"]["pagination"] == {"offset": 1, "limit": 2}
    assert set(got["query"]) == {*V2_QUERY_KEYS, "pagination"}
    assert [r["dimensions"] for r in got["results"]] == [["Google"], ["Newsletter"]]


def test_v2_documented_examples_avowal_cannot_answer_name_why(
    known: int, client: TestClient, bearer: dict[str, str]
) -> None:
    def post(**body: Any) -> str:
        answer = client.post("/api/v2/query", json={"site_id": SITE, **body}, headers=bearer)
        return refusal(answer, 400)

    base = {"metrics": ["visitors"], "date_range": "7d"}
    # "UTM medium, source analysis": two properties at once.
    assert "two properties" in post(**base, dimensions=["visit:utm_medium", "visit:utm_source"])
    # "Country and city analysis": cities are not kept.
    assert "`visit:country_name`" in post(**base, dimensions=["visit:country_name"])
    # "Filtering basics": contains and or.
    assert "`contains`" in post(**base, filters=[["contains", "event:page", ["/docs", "/pricing"]]])
    # "Case insensitive filtering".
    modifier = [["is", "visit:source", ["google"], {"case_sensitive": False}]]
    assert "case" in post(**base, filters=modifier)
    # "Revenue metrics".
    assert "`total_revenue`" in post(metrics=["total_revenue"], date_range="7d")


# -- The dashboard's figures ---------------------------------------------------------------------


@pytest.mark.parametrize("filters", [None, "visit:source==Google", "event:page==/blog"])
def test_v1_aggregate_is_the_dashboards_summary(
    known: int, v1: Get, dash: Get, filters: str | None
) -> None:
    given = {"filters": filters} if filters else {}
    dashboard_filter = (
        {"filter": filters.replace("visit:", "").replace("event:", "").replace("==", ":")}
        if filters
        else {}
    )
    summary = dash("summary", **RANGE, compare="previous", **dashboard_filter)
    metrics = [*VISIT_METRICS, "views_per_visit"]
    got = v1("aggregate", **CUSTOM, metrics=",".join(metrics), compare="previous_period", **given)
    for name in metrics:
        assert got["results"][name] == {
            "value": summary["totals"][name],
            "comparison_value": summary["previous"]["totals"][name],
            "change": summary["change"][name],
        }, name
    totals = summary["totals"]
    events = v1("aggregate", **CUSTOM, metrics="events", **given)["results"]["events"]
    assert events == {"value": totals["pageviews"] + totals["events"]}


def test_v1_timeseries_is_the_dashboards(known: int, v1: Get, dash: Get) -> None:
    points = dash("timeseries", **RANGE)["points"]
    got = v1("timeseries", **CUSTOM, metrics=",".join(VISIT_METRICS))["results"]
    assert got == [{"date": p["t"], **{m: p[m] for m in VISIT_METRICS}} for p in points]
    hours = dash("timeseries", **{"from": "2026-03-10", "to": "2026-03-10"})["points"]
    got = v1("timeseries", period="day", date="2026-03-10", metrics="visitors,pageviews")
    assert [r["date"] for r in got["results"]][:2] == ["2026-03-10 00:00:00", "2026-03-10 01:00:00"]
    assert [(r["visitors"], r["pageviews"]) for r in got["results"]] == [
        (p["visitors"], p["pageviews"]) for p in hours
    ]


@pytest.mark.parametrize("prop", sorted(PROPERTIES))
def test_v1_breakdown_is_the_dashboards_table(known: int, v1: Get, dash: Get, prop: str) -> None:
    dimension = PROPERTIES[prop]
    rows = dash(f"breakdown/{dimension}", **RANGE, limit=1000)["rows"]
    metrics = ["visitors", "visits", "pageviews", "bounce_rate"]
    metrics.append("time_on_page" if dimension == "page" else "visit_duration")
    got = v1("breakdown", **CUSTOM, property=prop, metrics=",".join(metrics))["results"]
    key = prop.split(":")[1]
    if dimension == "entry_page":  # the dashboard shows entrances, and no page views there
        metrics.remove("pageviews")
        got = [{k: v for k, v in r.items() if k != "pageviews"} for r in got]
        rows = [{**r, "visits": r["entrances"]} for r in rows]
    expected = [{key: r["value"], **{m: r.get(m) for m in metrics}} for r in rows]
    if dimension == "exit_page":  # the dashboard shows exits and the exit rate there
        assert [(r[key], r["visitors"], r["visits"]) for r in got] == [
            (r["value"], r["visitors"], r["exits"]) for r in rows
        ]
    else:
        assert got == expected


def test_v1_breakdown_of_events_and_props_is_the_dashboards(known: int, v1: Get, dash: Get) -> None:
    metrics = "visitors,events,conversion_rate"
    for prop in ("event:name", "event:goal"):
        got = v1("breakdown", **CUSTOM, property=prop, metrics=metrics)["results"]
        rows = dash("breakdown/event", **RANGE)["rows"]
        assert got == [
            {prop.split(":")[1]: r["value"], **{m: r[m] for m in metrics.split(",")}} for r in rows
        ]
    got = v1("breakdown", **CUSTOM, property="event:props:plan", metrics=metrics)["results"]
    (row,) = dash("breakdown/prop", **RANGE)["rows"]
    assert got == [{"plan": "pro", "visitors": 1, "events": 1, "conversion_rate": 16.7}]
    assert row["value"] == "plan=pro" and row["conversion_rate"] == 16.7


def test_v1_breakdown_pages_through_the_table(known: int, v1: Get, dash: Get) -> None:
    rows = [r["value"] for r in dash("breakdown/page", **RANGE)["rows"]]
    first = v1("breakdown", **CUSTOM, property="event:page", limit=3)["results"]
    second = v1("breakdown", **CUSTOM, property="event:page", limit=3, page=2)["results"]
    assert [r["page"] for r in first + second] == rows


@pytest.mark.parametrize("source", [None, "Google"])
def test_v2_query_is_the_dashboards(known: int, v2: Get, dash: Get, source: str | None) -> None:
    filters = [["is", "visit:source", [source]]] if source else []
    given = {"filter": f"source:{source}"} if source else {}
    metrics = [*VISIT_METRICS, "views_per_visit"]
    totals = dash("summary", **RANGE, **given)["totals"]
    got = v2(metrics=metrics, date_range=DATE_RANGE, filters=filters)
    assert got["results"] == [{"metrics": [totals[m] for m in metrics], "dimensions": []}]
    rows = dash("breakdown/page", **RANGE, limit=1000, **given)["rows"]
    page_metrics = ["visitors", "visits", "pageviews", "bounce_rate", "time_on_page"]
    got = v2(
        metrics=page_metrics, date_range=DATE_RANGE, filters=filters, dimensions=["event:page"]
    )
    assert got["results"] == [
        {"metrics": [r[m] for m in page_metrics], "dimensions": [r["value"]]} for r in rows
    ]
    points = dash("timeseries", **RANGE, **given)["points"]
    got = v2(metrics=VISIT_METRICS, date_range=DATE_RANGE, filters=filters, dimensions=["time:day"])
    assert got["results"] == [
        {"metrics": [p[m] for m in VISIT_METRICS], "dimensions": [p["t"]]}
        for p in points
        if p["visits"]
    ]


def test_v2_time_and_property_is_each_days_table(known: int, v2: Get, dash: Get) -> None:
    got = v2(metrics=VISIT_METRICS, date_range=DATE_RANGE, dimensions=["time:day", "visit:os"])
    expected = []
    for day in ("2026-03-10", "2026-03-11", "2026-03-12"):
        for r in dash("breakdown/os", **{"from": day, "to": day})["rows"]:
            expected.append(
                {"metrics": [r[m] for m in VISIT_METRICS], "dimensions": [day, r["value"]]}
            )
    # Per day, most visitors first (the dashboard's order within a day).
    assert got["results"] == expected


# -- Refusals ------------------------------------------------------------------------------------


def test_unknown_metric_property_and_site(
    known: int, client: TestClient, bearer: dict[str, str]
) -> None:
    def get(endpoint: str, status: int = 400, **params: Any) -> str:
        answer = client.get(f"/api/v1/stats/{endpoint}", params=params, headers=bearer)
        return refusal(answer, status)

    site = {"site_id": SITE}
    assert get("aggregate", **site, metrics="pageviews,led_zeppelin") == (
        "The metric `led_zeppelin` is not recognized. Find valid metrics from the documentation: "
        "https://plausible.io/docs/stats-api#metrics"
    )
    assert get("breakdown", **site, property="badproperty") == (
        "Invalid property 'badproperty'. Please provide a valid property for the breakdown "
        "endpoint: https://plausible.io/docs/stats-api#properties"
    )
    assert get("breakdown", **site) == (
        "The `property` parameter is required. Please provide at least one property to show a "
        "breakdown by."
    )
    assert "`visit:city`" in get("breakdown", **site, property="visit:city")
    assert get("aggregate", **site, period="aosuhsacp").startswith(
        "Error parsing `period` parameter: invalid period `aosuhsacp`."
    )
    assert "`scroll_depth`" in get("aggregate", **site, metrics="scroll_depth")
    assert "`~`" in get("aggregate", **site, filters="visit:country~FR")
    assert "`|`" in get("aggregate", **site, filters="visit:country==FR|DE")
    assert "between" in get("aggregate", **site, period="month", date="9999-12-31")
    assert "between" in get("aggregate", **site, period="7d", date="0001-01-02")
    assert get("aggregate") == (
        "Missing site ID. Please provide the required site_id parameter with your request."
    )
    assert "no-such.example.com" in get("aggregate", 404, site_id="no-such.example.com")
    assert "no-such.example.com" in get("realtime/visitors", 404, site_id="no-such.example.com")

    def post(status: int = 400, **body: Any) -> str:
        return refusal(client.post("/api/v2/query", json=body, headers=bearer), status)

    base = {"site_id": SITE, "date_range": "7d"}
    assert post(**base, metrics=["visitors", "baa"]) == '#/metrics/1: Invalid metric "baa"'
    assert post(**base, metrics=["visitors"], dimensions=["badproperty"]) == (
        '#/dimensions/0: Invalid dimension "badproperty"'
    )
    assert post(site_id=SITE, metrics=["visitors"], date_range="bad_period") == (
        '#/date_range: Invalid date range "bad_period"'
    )
    assert "Invalid date range" in post(
        **{**base, "date_range": "99999999999mo"}, metrics=["visits"]
    )
    assert "session" not in post(**base, metrics=["bounce_rate"], dimensions=["event:name"])
    assert post(404, site_id="no-such.example.com", metrics=["visitors"], date_range="7d")
    assert post(site_id=SITE, metrics=["visitors"]).startswith("Invalid request: body.date_range")


@pytest.mark.parametrize(
    ("path", "method"),
    [
        ("/api/v1/stats/realtime/visitors", "GET"),
        ("/api/v1/stats/aggregate", "GET"),
        ("/api/v1/stats/timeseries", "GET"),
        ("/api/v1/stats/breakdown", "GET"),
        ("/api/v2/query", "POST"),
    ],
)
def test_keys_are_tokens_granting_analytics(
    known: int, client: TestClient, tokens: dict[str, str], path: str, method: str
) -> None:
    def call(headers: dict[str, str]) -> httpx.Response:
        if method == "POST":
            body = {"site_id": SITE, **V2_AGGREGATE}
            return client.post(path, json=body, headers=headers)
        return client.get(path, params={"site_id": SITE, "property": "event:page"}, headers=headers)

    assert "required" in refusal(call({}), 401)
    assert "not valid" in refusal(call({"Authorization": "Bearer avw_forged"}), 401)
    newsletter = {"Authorization": f"Bearer {tokens['newsletter_service']}"}
    assert "analytics.reporting" in refusal(call(newsletter), 403)
    assert call({"Authorization": f"Bearer {tokens['reporting_service']}"}).status_code == 200

"""The Stats API's filters on any dimension, its page and revenue metrics, against the dashboard.

The data set is test_dashboard.py's with F1, a visit with a value under every dimension, page
engagement and two EUR purchases (``dashboard_data.store_every_dimension``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.lib import clock
from tests.integration.analytics.dashboard_data import API, NOW, RANGE, SITE, store_every_dimension
from tests.integration.analytics.stores import BOTH_STORES

# Every figure, with the events in the database and in ClickHouse.
pytestmark = BOTH_STORES

CUSTOM = {"period": "custom", "date": "2026-03-10,2026-03-12"}
DATE_RANGE = ["2026-03-10", "2026-03-12"]
METRICS = ["visitors", "visits", "pageviews", "bounce_rate", "visit_duration", "views_per_visit"]
Get = Callable[..., Any]


@pytest.fixture
def full(app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return store_every_dimension(app)


@pytest.fixture
def bearer(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['reporting_service']}"}


@pytest.fixture
def v1(client: TestClient, bearer: dict[str, str]) -> Get:
    def get(endpoint: str, **params: Any) -> Any:
        answer = client.get(
            f"/api/v1/stats/{endpoint}", params={"site_id": SITE, **params}, headers=bearer
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    return get


@pytest.fixture
def v2(client: TestClient, bearer: dict[str, str]) -> Get:
    def post(**body: Any) -> Any:
        answer = client.post("/api/v2/query", json={"site_id": SITE, **body}, headers=bearer)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return post


@pytest.fixture
def dash(client: TestClient, bearer: dict[str, str]) -> Get:
    def get(path: str, **params: Any) -> Any:
        answer = client.get(f"{API}/{path}", params={**RANGE, **params}, headers=bearer)
        assert answer.status_code == 200, answer.text
        return answer.json()

    return get


def refusal(answer: httpx.Response) -> str:
    """Assert a 400 in Plausible's shape; return its message."""
    assert answer.status_code == 400, answer.text
    body = answer.json()
    assert list(body) == ["error"], body
    message: str = body["error"]
    return message


# (v1 filters, v2 filters, the dashboard's filters): one or two, on several dimensions.
FILTERS = [
    ("visit:country==DE", [["is", "visit:country", ["DE"]]], ["country:DE"]),
    ("visit:country!=DE", [["is_not", "visit:country", ["DE"]]], ["country!:DE"]),
    ("event:goal==Purchase", [["is", "event:goal", ["Purchase"]]], ["event:Purchase"]),
    ("event:name!=Signup", [["is_not", "event:name", ["Signup"]]], ["event!:Signup"]),
    ("event:props:tier==team", [["is", "event:props:tier", ["team"]]], ["prop:tier=team"]),
    ("visit:entry_page==/", [["is", "visit:entry_page", ["/"]]], ["entry_page:/"]),
    ("visit:utm_term==privacy", [["is", "visit:utm_term", ["privacy"]]], ["utm_term:privacy"]),
    (
        "visit:source==Google;visit:device!=tablet",
        [["is", "visit:source", ["Google"]], ["is_not", "visit:device", ["tablet"]]],
        ["source:Google", "device!:tablet"],
    ),
    (
        "event:page==/pricing;visit:os==iOS",
        [["is", "event:page", ["/pricing"]], ["is", "visit:os", ["iOS"]]],
        ["page:/pricing", "os:iOS"],
    ),
]


@pytest.mark.parametrize(("v1_filters", "v2_filters", "filters"), FILTERS)
def test_filters_answer_the_dashboards_figures(
    full: int,
    v1: Get,
    v2: Get,
    dash: Get,
    v1_filters: str,
    v2_filters: list[Any],
    filters: list[str],
) -> None:
    totals = dash("summary", filter=filters)["totals"]
    assert totals["visits"] > 0  # every filter selects something
    got = v1("aggregate", **CUSTOM, metrics=",".join(METRICS), filters=v1_filters)
    assert got["results"] == {m: {"value": totals[m]} for m in METRICS}
    got = v2(metrics=METRICS, date_range=DATE_RANGE, filters=v2_filters)
    assert got["results"] == [{"metrics": [totals[m] for m in METRICS], "dimensions": []}]
    assert got["query"]["filters"] == v2_filters
    sources = dash("breakdown/source", filter=filters, limit=1000)["rows"]
    got = v1("breakdown", **CUSTOM, property="visit:source", filters=v1_filters)
    assert got["results"] == [{"source": r["value"], "visitors": r["visitors"]} for r in sources]


def test_a_negated_filter_is_the_rest_of_the_visits(full: int, v1: Get, v2: Get) -> None:
    def visits(**given: Any) -> int:
        value: int = v1("aggregate", **CUSTOM, metrics="visits", **given)["results"]["visits"][
            "value"
        ]
        return value

    everything = visits()
    assert (
        visits(filters="visit:browser==Firefox") + visits(filters="visit:browser!=Firefox")
        == everything
    )
    with_it = v2(metrics=["visits"], date_range=DATE_RANGE, filters=[["is", "event:page", ["/"]]])
    without = v2(
        metrics=["visits"], date_range=DATE_RANGE, filters=[["is_not", "event:page", ["/"]]]
    )
    assert with_it["results"][0]["metrics"][0] + without["results"][0]["metrics"][0] == everything


def test_or_and_other_operators_are_refused_by_name(
    full: int, client: TestClient, bearer: dict[str, str]
) -> None:
    def get(filters: str) -> str:
        return refusal(
            client.get(
                "/api/v1/stats/aggregate",
                params={"site_id": SITE, **CUSTOM, "filters": filters},
                headers=bearer,
            )
        )

    assert "`|`" in get("visit:country==DE|FR")
    assert "`~`" in get("visit:source~Goo")
    assert "`==` and `!=`" in get("visit:source")
    assert "visit:city" in get("visit:city==Paris")
    assert "Invalid filter property 'visit:colour'" in get("visit:colour==red")
    assert "Wildcards" in get("event:page==/blog*")

    def post(filters: list[Any]) -> str:
        body = {"site_id": SITE, "metrics": ["visitors"], "date_range": DATE_RANGE}
        return refusal(
            client.post("/api/v2/query", json={**body, "filters": filters}, headers=bearer)
        )

    assert "exactly one value" in post([["is", "visit:country", ["DE", "FR"]]])
    assert "`contains`" in post([["contains", "event:page", ["/b"]]])
    assert "`or`" in post([["or", [["is", "visit:country", ["DE"]]]]])
    assert "has no value" in post([["is", "visit:source", [""]]])


def test_page_metrics_are_the_dashboards(full: int, v1: Get, v2: Get, dash: Get) -> None:
    rows = dash("breakdown/page", limit=1000)["rows"]
    by_page = {r["value"]: r for r in rows}
    # F1's engagement: 20 s and 80% on /features, 4 s and 40% on /thanks; none elsewhere.
    assert (by_page["/features"]["time_on_page"], by_page["/features"]["scroll_depth"]) == (20, 80)
    assert (by_page["/thanks"]["time_on_page"], by_page["/thanks"]["scroll_depth"]) == (4, 40)
    assert "scroll_depth" not in by_page["/"]
    metrics = ["visitors", "pageviews", "time_on_page", "scroll_depth"]
    got = v1("breakdown", **CUSTOM, property="event:page", metrics=",".join(metrics))["results"]
    assert got == [{"page": r["value"], **{m: r.get(m) for m in metrics}} for r in rows]
    got = v2(metrics=metrics, date_range=DATE_RANGE, dimensions=["event:page"])["results"]
    assert got == [
        {"metrics": [r.get(m) for m in metrics], "dimensions": [r["value"]]} for r in rows
    ]


EUR_42_5 = {"short": "\u20ac42.5", "long": "\u20ac42.50", "value": 42.5, "currency": "EUR"}
EUR_21_25 = {"short": "\u20ac21.2", "long": "\u20ac21.25", "value": 21.25, "currency": "EUR"}


def test_revenue_of_goals_in_plausibles_shape(full: int, v1: Get, v2: Get, dash: Get) -> None:
    goals = {r["value"]: r for r in dash("breakdown/event")["rows"]}
    assert goals["Purchase"]["revenue"] == [{"currency": "EUR", "amount": "42.5"}]
    assert "revenue" not in goals["Signup"]
    metrics = "visitors,events,total_revenue,average_revenue"
    got = v1("breakdown", **CUSTOM, property="event:goal", metrics=metrics)["results"]
    by_goal = {r["goal"]: r for r in got}
    assert by_goal["Purchase"] == {
        "goal": "Purchase",
        "visitors": 1,
        "events": 2,
        "total_revenue": EUR_42_5,
        "average_revenue": EUR_21_25,
    }
    assert by_goal["Signup"]["total_revenue"] is None
    got = v2(
        metrics=["total_revenue", "average_revenue"],
        date_range=DATE_RANGE,
        dimensions=["event:goal"],
        order_by=[["total_revenue", "desc"]],
    )
    assert got["results"][0] == {"metrics": [EUR_42_5, EUR_21_25], "dimensions": ["Purchase"]}


def test_revenue_metrics_elsewhere_are_refused_with_the_reason(
    full: int, client: TestClient, bearer: dict[str, str]
) -> None:
    answer = client.get(
        "/api/v1/stats/breakdown",
        params={"site_id": SITE, **CUSTOM, "property": "visit:source", "metrics": "total_revenue"},
        headers=bearer,
    )
    assert "breakdown by `event:goal`" in refusal(answer)
    answer = client.get(
        "/api/v1/stats/aggregate",
        params={"site_id": SITE, **CUSTOM, "metrics": "scroll_depth"},
        headers=bearer,
    )
    assert "breakdown by `event:page`" in refusal(answer)

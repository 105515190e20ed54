"""Plausible's events, exactly (issue 13 point 1): engagement events feed time on page and
scroll depth and are never goals; non-interactive events do not end a bounce; revenue goals are
stored and summed per currency; invalid parts are dropped, the rest kept, and the
``X-Avowal-Dropped`` header says what was dropped."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.analytics import worker
from avowal.analytics.models import Site
from avowal.lib import clock as lib_clock
from tests.integration.analytics.stores import BOTH_STORES, Rows

SITE = "www.contactmonkey.com"
API = f"/v1/analytics/sites/{SITE}"
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
DAY = NOON.date().isoformat()
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)

# Plausible's events, with the events in the database and in ClickHouse.
pytestmark = BOTH_STORES


def send(client: TestClient, payload: Any, ua: str = FIREFOX) -> Any:
    return client.post(
        "/api/event",
        content=json.dumps(payload).encode(),
        headers={"Content-Type": "text/plain", "User-Agent": ua},
    )


def short(name: str | int, path: str, **extra: Any) -> dict[str, Any]:
    """An event as @plausible-analytics/tracker sends it (short names)."""
    return {"n": name, "u": f"https://{SITE}{path}", "d": SITE, **extra}


@pytest.fixture
def at(app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> Callable[[int], None]:
    """Set the ingest clock to NOON plus some seconds (the dashboard's reads the next day)."""
    monkeypatch.setattr(lib_clock, "now", lambda: NOON + dt.timedelta(days=1))

    def move(seconds: int) -> None:
        app.state.analytics.clock = lambda: NOON + dt.timedelta(seconds=seconds)

    move(0)
    return move


def roll(app: FastAPI) -> None:
    """Roll the day up as the worker would the next day (from ClickHouse, if kept there)."""
    with app.state.sessionmaker() as session:
        site_id = session.scalar(select(Site.id).where(Site.domain == SITE))
    assert site_id is not None
    now = NOON + dt.timedelta(days=1)
    worker.redo_day(app.state.sessionmaker, app.state.settings, site_id, NOON.date(), now)


def get(client: TestClient, tokens: dict[str, str], path: str, **params: Any) -> Any:
    params = {"from": DAY, "to": DAY, **params}
    answer = client.get(
        f"{API}{path}",
        params=params,
        headers={"Authorization": f"Bearer {tokens['reporting_service']}"},
    )
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_engagement_non_interactive_and_revenue_figures(
    app: FastAPI,
    client: TestClient,
    stored: Rows,
    tokens: dict[str, str],
    at: Callable[[int], None],
) -> None:
    visit = [
        # Visitor 1: two pages, a purchase with a prop, engaged on both pages.
        (0, FIREFOX, short("pageview", "/")),
        (10, FIREFOX, short("engagement", "/", sd=40, e=8000)),
        (60, FIREFOX, short("pageview", "/pricing")),
        (
            90,
            FIREFOX,
            short(
                "Purchase",
                "/pricing",
                p={"plan": "pro"},
                **{"$": {"amount": "12.5", "currency": "EUR"}},
            ),
        ),
        (120, FIREFOX, short("engagement", "/pricing", sd=90, e=20000)),
        # Visitor 2: one page and a non-interactive event: still a bounce.
        (300, IPHONE, short("pageview", "/")),
        (305, IPHONE, short("Video Play", "/", i=False)),
        (330, IPHONE, short("engagement", "/", sd=100, e=26000)),
        # Visitor 3: one page and purchases (long names, amounts as a number and a string).
        (600, CHROME, short("pageview", "/pricing")),
        (
            620,
            CHROME,
            {
                "name": "Purchase",
                "url": f"https://{SITE}/pricing",
                "domain": SITE,
                "revenue": {"amount": 30, "currency": "eur"},
            },
        ),
        (
            640,
            CHROME,
            short("Purchase", "/pricing", **{"$": {"amount": "7.25", "currency": "USD"}}),
        ),
    ]
    for seconds, ua, payload in visit:
        at(seconds)
        answer = send(client, payload, ua)
        assert answer.status_code == 202, answer.text
        assert answer.json() == {"stored": 1}
        assert "x-avowal-dropped" not in answer.headers
    kept = stored()
    engagements = [r for r in kept if r["name"] == "engagement"]
    assert [(r["path"], r["scroll_depth"], r["engagement_ms"]) for r in engagements] == [
        ("/", 40, 8000),
        ("/pricing", 90, 20000),
        ("/", 100, 26000),
    ]
    revenues = [(r["revenue_amount"], r["revenue_currency"]) for r in kept if r["revenue_amount"]]
    assert revenues == [("12.5", "EUR"), ("30", "EUR"), ("7.25", "USD")]
    assert [r["interactive"] for r in kept if r["name"] == "Video Play"] == [False]
    roll(app)

    totals = get(client, tokens, "/summary")["totals"]
    assert totals == {
        "visitors": 3,
        "visits": 3,
        "pageviews": 4,
        "events": 4,  # three purchases and a video play; engagement is not an event
        "bounce_rate": 33.3,  # visitor 2 only: a non-interactive event does not end a bounce
        "visit_duration": 45,  # engagement does not extend a visit: (90 + 5 + 40) / 3
        "views_per_visit": 1.33,
    }
    goals = get(client, tokens, "/breakdown/event")["rows"]
    assert goals == [
        {
            "value": "Purchase",
            "visitors": 2,
            "visits": 2,
            "events": 3,
            "conversion_rate": 66.7,
            "revenue": [
                {"currency": "EUR", "amount": "42.5"},
                {"currency": "USD", "amount": "7.25"},
            ],
        },
        {"value": "Video Play", "visitors": 1, "visits": 1, "events": 1, "conversion_rate": 33.3},
    ]
    props = get(client, tokens, "/breakdown/prop")["rows"]
    assert [(r["value"], r["visitors"], r["events"]) for r in props] == [("plan=pro", 1, 1)]
    pages = {r["value"]: r for r in get(client, tokens, "/breakdown/page")["rows"]}
    assert pages["/"]["scroll_depth"] == 70  # (40 + 100) / 2
    assert pages["/"]["time_on_page"] == 17  # (8 + 26 s) / 2 visits
    assert pages["/pricing"]["scroll_depth"] == 90  # visitor 3 sent no engagement
    assert pages["/pricing"]["time_on_page"] == 20
    assert pages["/"]["bounce_rate"] == 50.0
    assert get(client, tokens, "/breakdown/page", filter="page:/")["rows"][0]["scroll_depth"] == 70


def test_an_engagement_outside_any_visit_counts_nowhere(
    app: FastAPI, client: TestClient, tokens: dict[str, str], at: Callable[[int], None]
) -> None:
    send(client, short("pageview", "/"))
    at(3 * 3600)  # hours later, the tab is hidden: no visit under way
    assert send(client, short("engagement", "/", sd=10, e=100)).status_code == 202
    roll(app)
    totals = get(client, tokens, "/summary")["totals"]
    assert (totals["visits"], totals["events"], totals["bounce_rate"]) == (1, 0, 100.0)
    assert get(client, tokens, "/breakdown/event")["rows"] == []
    page = get(client, tokens, "/breakdown/page")["rows"][0]
    assert "scroll_depth" not in page


LONG = "x" * 2100


@pytest.mark.parametrize(
    ("payload", "dropped", "check"),
    [
        (
            short(
                "Signup",
                "/",
                p={"nested": {"a": 1}, "list": [1], "long": LONG} | {f"k{i}": i for i in range(30)},
            ),
            "props.too_many,props.nested,props.too_long",
            lambda r: len(r["props"]) == 28 and r["props"]["long"] == "x" * 2000,
        ),
        (
            {"n": "pageview", "u": f"https://{SITE}/no-domain"},
            None,
            lambda r: r["path"] == "/no-domain",
        ),
        (short(404, "/missing"), None, lambda r: r["name"] == "404"),
        (
            {"n": "pageview", "u": "capacitor://localhost/app/home", "d": SITE},
            None,
            lambda r: r["path"] == "/app/home",
        ),
        (
            short("Purchase", "/", **{"$": {"amount": "lots", "currency": "EUR"}}),
            "revenue.invalid",
            lambda r: r["name"] == "Purchase" and r["revenue_amount"] is None,
        ),
        (
            short("Purchase", "/", **{"$": {"amount": "1", "currency": "EURO"}}),
            "revenue.invalid",
            lambda r: r["revenue_currency"] is None,
        ),
        (
            short("pageview", "/", **{"$": {"amount": "1", "currency": "EUR"}}),
            "revenue.not_a_goal",
            lambda r: r["revenue_amount"] is None,
        ),
        (
            short("engagement", "/", sd=140, e=-5),
            "engagement.invalid",
            lambda r: (r["scroll_depth"], r["engagement_ms"]) == (None, None),
        ),
        (
            short("Play", "/", i="no"),
            "interactive.invalid",
            lambda r: r["interactive"] is None,
        ),
    ],
)
def test_invalid_parts_are_dropped_and_the_rest_kept(
    client: TestClient,
    stored: Rows,
    at: Callable[[int], None],
    payload: dict[str, Any],
    dropped: str | None,
    check: Callable[[Any], bool],
) -> None:
    answer = send(client, payload)
    assert answer.status_code == 202, answer.text
    assert answer.json() == {"stored": 1}
    assert answer.headers.get("x-avowal-dropped") == dropped
    (row,) = stored()
    assert check(row), row


def test_still_refused_stores_nothing(client: TestClient, stored: Rows) -> None:
    for payload in (
        {"n": "pageview", "u": "javascript:alert(1)"},  # no host to fall back to
        {"n": "pageview", "u": "ftp://www.contactmonkey.com/x", "d": SITE},
        short("pageview", "/", p="[1]"),
    ):
        answer = send(client, payload)
        assert answer.status_code == 400, answer.text
        assert "x-avowal-dropped" not in answer.headers
    assert stored() == []

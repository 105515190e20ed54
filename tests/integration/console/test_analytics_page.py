"""The analytics dashboard page of the console, for signed-in staff (real sign-in with TOTP)."""

from __future__ import annotations

import datetime as dt
import logging
from collections.abc import Callable

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.analytics.models import ArchivedDay, FilterUse, RollupState
from tests.integration.analytics.dashboard_data import NOW, RANGE, SITE, store_known
from tests.integration.console.conftest import Browser
from tests.integration.staff.conftest import Clock


@pytest.fixture
def known(app: FastAPI, client: TestClient, clock: Clock) -> int:
    """The known data set of the dashboard tests; the one clock (staff and dashboard) reads NOW."""
    clock.now = NOW
    return store_known(app)


def test_marketing_sees_the_dashboard(known: int, staff_browser: Callable[..., Browser]) -> None:
    grace = staff_browser("grace@example.com", role="marketing")
    page = grace.get("/console/analytics", params={"site": SITE, **RANGE, "compare": "previous"})
    assert page.status_code == 200, page.text
    html = page.text
    assert page.headers["cache-control"].startswith("no-store")
    assert 'data-points="3"' in html
    assert '<option value="www.example.com" selected>' in html
    assert '<option value="quiet.example.com">' in html
    # Figures, deltas, realtime, tables with their filter and CSV links, the chart's tooltips.
    assert "57.1%" in html and "+200.0%" in html and "+7.1 pts" in html
    assert "<strong>2</strong> visitors in the last 30 minutes" in html
    assert "Tue 10 Mar 2026: 2 visitors" in html
    assert "/console/analytics/export.csv?site=www.example.com" in html
    assert "filter=source%3AGoogle" in html and "filter=page%3A%2Fpricing" in html
    filtered = grace.get(
        "/console/analytics", params={"site": SITE, **RANGE, "filter": "source:Google"}
    )
    assert filtered.status_code == 200
    assert "source:Google" in filtered.text and "raw events" in filtered.text
    csv = grace.get(
        "/console/analytics/export.csv", params={"site": SITE, "table": "source", **RANGE}
    )
    assert csv.status_code == 200
    assert csv.text.splitlines()[1] == "Direct / None,3,3,3,100.0,0"
    bad = grace.get("/console/analytics", params={"site": SITE, "from": "soon"})
    assert bad.status_code == 400 and "YYYY-MM-DD" in bad.text
    unknown = grace.get("/console/analytics", params={"site": "nope.example.com"})
    assert unknown.status_code == 404 and "no analytics site" in unknown.text


def test_a_role_without_analytics_is_refused(
    known: int, staff_browser: Callable[..., Browser]
) -> None:
    ada = staff_browser("ada@example.com", role="support")
    page = ada.get("/console/analytics")
    assert page.status_code == 403
    assert "analytics.reporting" in page.text
    csv = ada.get("/console/analytics/export.csv", params={"site": SITE, "table": "page"})
    assert csv.status_code == 403


def test_the_page_needs_sign_in(known: int, client: TestClient) -> None:
    answer = client.get("/console/analytics", follow_redirects=False)
    assert answer.status_code == 303
    assert answer.headers["location"] == "/console/login"


def test_a_filtered_page_notes_and_archives_in_the_pages_own_transaction(
    known: int,
    staff_browser: Callable[..., Browser],
    app: FastAPI,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The console's session may write: the filters are noted and the final days computed from
    raw events archived in it (a savepoint), without waiting for another connection."""
    grace = staff_browser("grace@example.com", role="marketing")
    with caplog.at_level(logging.WARNING, logger="avowal.analytics.archive"):
        page = grace.get(
            "/console/analytics", params={"site": SITE, **RANGE, "filter": "country!:FR"}
        )
    assert page.status_code == 200, page.text
    assert not [r for r in caplog.records if r.name == "avowal.analytics.archive"]
    with app.state.sessionmaker() as session:
        assert session.scalars(select(FilterUse.key)).all() == ["country!:FR"]
        finals = set(session.scalars(select(RollupState.day).where(RollupState.final.is_(True))))
        archived = set(session.scalars(select(ArchivedDay.day)))
    days = {dt.date.fromisoformat(RANGE["from"]) + dt.timedelta(days=i) for i in range(3)}
    assert archived == days & finals and archived


def test_a_filter_still_being_prepared_says_so_on_the_page(
    known: int, staff_browser: Callable[..., Browser], app: FastAPI, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(app.state.settings, "analytics_filter_budget_seconds", 1e-9)
    grace = staff_browser("grace@example.com", role="marketing")
    params = {"site": SITE, **RANGE, "filter": "device:mobile"}
    page = grace.get("/console/analytics", params=params)
    assert page.status_code == 503, page.text
    assert "being prepared" in page.text and "<html" in page.text.lower()
    assert page.headers["retry-after"] == "30"

"""The analytics dashboard in a real Chromium: the chart renders, no CSP violation, links work.

The share-link page is used (no sign-in needed); it is the same template as the console page.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn
from fastapi import FastAPI

from avowal.analytics import rollup, share
from avowal.app import create_app
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import EXAMPLE_POLICY, Settings
from tests.integration.analytics.dashboard_data import add_events, add_site, random_events

pytestmark = pytest.mark.browser

CHROMIUM = Path("/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
ROOT = Path(__file__).resolve().parent.parent.parent
DAYS = 30


def _need_chromium() -> None:
    if CHROMIUM.exists() and os.access(CHROMIUM, os.X_OK):
        return
    reason = f"{CHROMIUM} not found: apt-get install chromium"
    if os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}:
        pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


@pytest.fixture
def app(tmp_path: Path) -> Iterator[FastAPI]:
    """An app on a fresh SQLite database."""
    settings = Settings(
        env="test",
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'avowal.sqlite3'}",
        policy_file=ROOT / EXAMPLE_POLICY,
    )
    engine = make_engine(settings)
    migrate.upgrade(engine)
    try:
        yield create_app(settings, engine=engine)
    finally:
        engine.dispose()


@pytest.fixture
def server(app: FastAPI) -> Iterator[str]:
    """Serve the app on a free loopback port; yield its base URL."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not srv.started:
        assert time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)


@pytest.fixture
def shared(app: FastAPI) -> str:
    """Store 60 days of events for a site, roll them up, and return a share token."""
    today = dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=2 * DAYS - 1)
    now = dt.datetime.now(dt.UTC)
    with app.state.sessionmaker.begin() as session:
        site_id = add_site(session, "www.example.com")
        for i in range(2 * DAYS):
            # A weekly rhythm and slow growth, so the chart has a shape.
            busy = 25 + i // 2 + (12 if (first + dt.timedelta(days=i)).weekday() < 5 else 0)
            day = first + dt.timedelta(days=i)
            add_events(session, random_events(site_id, day, 1, seed=i, per_day=busy))
        token = share.create(session, "www.example.com")
    for i in range(2 * DAYS):
        with app.state.sessionmaker.begin() as session:
            rollup.roll_day(
                session, site_id, first + dt.timedelta(days=i), now=now, visit_minutes=30
            )
    return token


def test_dashboard_chart_renders_in_chromium(server: str, shared: str, tmp_path: Path) -> None:
    _need_chromium()
    from playwright.sync_api import sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda m: problems.append(m.text) if m.type == "error" else None)
            # Chromium asks for /favicon.ico on its own; every other request must succeed.
            page.on(
                "response",
                lambda r: (
                    problems.append(f"{r.status} {r.url}")
                    if r.status >= 400 and not r.url.endswith("/favicon.ico")
                    else None
                ),
            )
            page.on("pageerror", lambda e: problems.append(str(e)))
            page.goto(f"{server}/share/{shared}?compare=previous")
            chart = page.locator("svg.chart")
            chart.wait_for()
            box = chart.bounding_box()
            assert box is not None and box["width"] > 600 and box["height"] > 150
            assert page.locator("svg.chart circle.point").count() == DAYS
            assert page.locator("svg.chart polyline.line").is_visible()
            assert page.locator("svg.chart polyline.previous").count() == 1
            # The stylesheet applied (no CSP refusal): the line is drawn with the accent colour.
            stroke = page.eval_on_selector(
                "svg.chart polyline.line", "e => getComputedStyle(e).stroke"
            )
            assert stroke == "rgb(11, 92, 173)"
            assert page.locator(".an-cards li").count() == 6
            assert (
                page.locator(
                    "#t-page + table tbody tr, section[aria-labelledby='t-page'] tbody tr"
                ).count()
                >= 5
            )
            page.screenshot(path=str(tmp_path / "dashboard.png"), full_page=True)

            # A source row filters the dashboard; the chart still draws every day.
            page.locator("section[aria-labelledby='t-source'] tbody a").first.click()
            page.locator(".an-filters li").wait_for()
            assert "filter=source" in page.url
            assert page.locator("svg.chart circle.point").count() == DAYS

            # A one-day range is drawn per hour.
            day = dt.datetime.now(dt.UTC).date() - dt.timedelta(days=1)
            page.goto(f"{server}/share/{shared}?from={day}&to={day}")
            assert page.locator("svg.chart circle.point").count() == 24
            page.screenshot(path=str(tmp_path / "dashboard-day.png"), full_page=False)
        finally:
            browser.close()
    # A CSP refusal (inline style or script) would be a console error.
    assert [p for p in problems if not p.startswith("Failed to load resource")] == []

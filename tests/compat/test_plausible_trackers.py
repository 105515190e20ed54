"""Issue 13 point 1, "done when": Plausible's own npm trackers and avowal's /a.js, driven in a
real Chromium through one scripted visit against `avowal serve`, give exact dashboard figures.

The visit, by two visitors (two user agents, so two visitor hashes):

- A loads /shop/index.html (a page view), navigates in the page (history.pushState: an SPA page
  view of /shop/pricing), signs up (custom event ``Signup`` with ``plan=pro``), buys
  (``Purchase``, revenue 12.50 EUR) and hides the tab (an ``engagement`` event);
- B loads /shop/index.html, a video autoplays (``Video Play``, non-interactive: B still bounces)
  and hides the tab.

``@plausible-analytics/tracker`` sends all of it (and an engagement for /shop/index.html when A
leaves it). avowal's /a.js, called as Plausible's ``plausible(...)``, sends all but engagement.
``plausible-tracker`` has no revenue, non-interactive events or engagement: for it the visit is
the page views, the SPA navigation and the custom event with its prop.

Figures are read through the dashboard's JSON endpoints (a share link) after a rollup. Durations
and engaged times run on the wall clock, so they are bounded by the visit's length; every other
figure is exact.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import functools
import http.server
import shutil
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session
from typer.testing import CliRunner

from avowal.analytics import rollup, share
from avowal.analytics.clickhouse import events
from avowal.analytics.clickhouse.events import ClickHouseEvents
from avowal.analytics.models import Event, Site
from avowal.app import create_app
from avowal.cli import app as cli
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import Settings
from tests import pg, server
from tests.conftest import REPO_ROOT
from tests.integration.analytics.stores import CLICKHOUSE, DATABASE

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
# Headless Chromium calls itself HeadlessChrome, which the ingest drops as a bot.
VISITOR_A = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
VISITOR_B = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/121.0.0.0 Safari/537.36"
)
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script>window.AVOWAL = "{avowal}";</script>
{head}
</head><body>
<p>A short page: it fits the window, so a visitor has seen all of it (scroll depth 100).</p>
<button id="pricing" onclick="history.pushState({{}}, '', '/shop/pricing')">Pricing</button>
{body}
</body></html>
"""
A_JS_HEAD = '<script defer data-domain="localhost" src="{avowal}/a.js"></script>'
# The drop-in: Plausible's own call signature, answered by avowal's /a.js.
A_JS_BODY = """<script>window.visit = {
  event: (name, props) => plausible(name, {props}),
  revenue: (name, amount, currency) => plausible(name, {revenue: {amount, currency}}),
  quiet: (name) => plausible(name, {interactive: false})
};</script>"""
HIDE = """() => {
  Object.defineProperty(document, 'visibilityState', {value: 'hidden', configurable: true});
  document.dispatchEvent(new Event('visibilitychange'));
}"""


@dataclass(frozen=True)
class Tracker:
    """A tracker under test, and what it can send."""

    name: str
    goals: bool  # revenue and non-interactive events
    engagement: bool  # engagement events (scroll depth, engaged time)


TRACKERS = [
    Tracker("modern", goals=True, engagement=True),  # @plausible-analytics/tracker
    Tracker("legacy", goals=False, engagement=False),  # plausible-tracker
    Tracker("a.js", goals=True, engagement=False),  # avowal's own, called as plausible(...)
]


def chromium_or_skip() -> None:
    if CHROMIUM.exists():
        return
    reason = f"{CHROMIUM} not found (apt-get install -y chromium)"
    if pg.in_ci():
        pytest.fail(f"CI must run the browser tests: {reason}", pytrace=False)
    pytest.skip(reason)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[int]:
    """Serve the shop from another origin (http://localhost:<port>/shop/)."""
    root = tmp_path / "site"
    (root / "shop").mkdir(parents=True)
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


Counter = Callable[[], int]


def counter(engine: Engine, clickhouse: ClickHouseEvents | None) -> Counter:
    """Return a function counting the stored events, where the server keeps them."""
    if clickhouse is not None:
        return clickhouse.count

    def count() -> int:
        with engine.connect() as conn:
            return int(conn.scalar(select(func.count()).select_from(Event)) or 0)

    return count


def wait_for(count: Counter, expected: int, timeout: float = 15.0) -> int:
    """Wait until ``expected`` events are stored; return how many are."""
    deadline = time.monotonic() + timeout
    while True:
        stored = count()
        if stored >= expected or time.monotonic() > deadline:
            return stored
        time.sleep(0.05)


@dataclass
class InProcess:
    """A server run by uvicorn in a thread of the test process (for chdb, which only the
    process that opened its folder may use: the test counts the events in it too)."""

    url: str

    def output(self) -> str:
        return "(in-process server: its log is the test's)"


@contextlib.contextmanager
def in_process(settings: Settings) -> Iterator[InProcess]:
    port = server.free_port()
    app = create_app(settings)
    config = uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    srv = uvicorn.Server(config)
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + server.START_TIMEOUT
    while not srv.started:
        assert thread.is_alive() and time.monotonic() < deadline, "the server did not start"
        time.sleep(0.05)
    try:
        yield InProcess(f"http://127.0.0.1:{port}")
    finally:
        srv.should_exit = True
        thread.join(10)


def write_page(tmp_path: Path, tracker: Tracker, avowal: str, bundles: dict[str, Path]) -> None:
    shop = tmp_path / "site" / "shop"
    if tracker.name == "a.js":
        head, body = A_JS_HEAD.format(avowal=avowal), A_JS_BODY
    else:
        shutil.copy(bundles[tracker.name], shop / "tracker.js")
        head, body = "", '<script src="/shop/tracker.js"></script>'
    html = PAGE.format(avowal=avowal, head=head, body=body)
    (shop / "index.html").write_text(html)


def visit(count: Counter, browser: Any, url: str, tracker: Tracker, log: Any) -> None:
    """Drive the scripted visit of the module's docstring, waiting for each stored event."""
    stored = 0

    def expect(more: int) -> None:
        nonlocal stored
        stored += more
        assert wait_for(count, stored) == stored, log()

    a = browser.new_context(user_agent=VISITOR_A)
    page = a.new_page()
    page.goto(url)
    expect(1)  # page view of /shop/index.html
    page.click("#pricing")
    expect(2 if tracker.engagement else 1)  # (engagement on leaving the page) + SPA page view
    page.evaluate("visit.event('Signup', {plan: 'pro'})")
    expect(1)
    if tracker.goals:
        page.evaluate("visit.revenue('Purchase', '12.5', 'EUR')")
        expect(1)
    if tracker.engagement:
        page.evaluate(HIDE)
        expect(1)  # engagement on /shop/pricing
    a.close()
    b = browser.new_context(user_agent=VISITOR_B)
    page = b.new_page()
    page.goto(url)
    expect(1)
    if tracker.goals:
        page.evaluate("visit.quiet('Video Play')")
        expect(1)
    if tracker.engagement:
        page.evaluate(HIDE)
        expect(1)
    b.close()


def figures(engine: Engine, avowal: str, *, roll: bool) -> dict[str, Any]:
    """Roll today up (the database store), and read the dashboard's JSON endpoints through a
    share link."""
    today = dt.datetime.now(dt.UTC).date()
    with Session(engine) as session, session.begin():
        site_id = session.scalar(select(Site.id).where(Site.domain == "localhost"))
        assert site_id is not None
        if roll:
            now = dt.datetime.now(dt.UTC)
            rollup.roll_day(session, site_id, today, now=now, visit_minutes=30)
        token = share.create(session, "localhost")
    base = f"{avowal}/v1/analytics/share/{token}"
    params = {"from": today.isoformat(), "to": today.isoformat()}
    answers = {}
    for name, path in [
        ("summary", "/summary"),
        ("goals", "/breakdown/event"),
        ("props", "/breakdown/prop"),
        ("pages", "/breakdown/page"),
    ]:
        answer = httpx.get(base + path, params=params, timeout=10)
        assert answer.status_code == 200, answer.text
        answers[name] = answer.json()
    return answers


@pytest.mark.parametrize("store", [DATABASE, CLICKHOUSE])
@pytest.mark.parametrize("tracker", TRACKERS, ids=lambda t: t.name)
def test_one_visit_gives_exact_dashboard_figures(
    tmp_path: Path,
    site: int,
    bundles: dict[str, Path],
    tracker: Tracker,
    store: str,
    request: pytest.FixtureRequest,
) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    policy = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
    env = server.serve_env(tmp_path, database_url, policy)
    added = CliRunner().invoke(cli, ["analytics", "site", "add", "localhost"], env=env)
    assert added.exit_code == 0, added.output
    clickhouse = None
    serving: contextlib.AbstractContextManager[server.Server | InProcess]
    if store == CLICKHOUSE:
        # In this process: chdb's folder opens in one process, and the test counts in it too.
        url: str = request.getfixturevalue("clickhouse_url")
        settings = Settings(
            env="test", data_dir=tmp_path, database_url=database_url, policy_file=policy
        ).model_copy(update={"analytics_url": url})
        clickhouse = events.of(settings)
        assert clickhouse is not None
        clickhouse.upgrade(30)
        serving = in_process(settings)
    else:
        serving = server.running(env, tmp_path / "serve.log")
    try:
        with serving as avowal:
            write_page(tmp_path, tracker, avowal.url, bundles)
            started = time.monotonic()
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    visit(
                        counter(engine, clickhouse),
                        browser,
                        f"http://localhost:{site}/shop/index.html",
                        tracker,
                        avowal.output,
                    )
                finally:
                    browser.close()
            elapsed = time.monotonic() - started
            if isinstance(avowal, server.Server):
                # The tracker's events were committed by the writer process, as in production.
                assert avowal.writers(), avowal.output()
            got = figures(engine, avowal.url, roll=clickhouse is None)
    finally:
        engine.dispose()

    totals = got["summary"]["totals"]
    duration = totals.pop("visit_duration")
    assert 0 <= duration <= elapsed, (duration, elapsed)
    assert totals == {
        "visitors": 2,
        "visits": 2,
        "pageviews": 3,
        # Signup, Purchase and Video Play; engagement is never an event.
        "events": 3 if tracker.goals else 1,
        # B bounces: one page view, and Video Play is not interactive.
        "bounce_rate": 50.0,
        "views_per_visit": 1.5,
    }, got

    goals = got["goals"]["rows"]
    signup = {"value": "Signup", "visitors": 1, "visits": 1, "events": 1, "conversion_rate": 50.0}
    if tracker.goals:
        assert goals == [
            {
                "value": "Purchase",
                "visitors": 1,
                "visits": 1,
                "events": 1,
                "conversion_rate": 50.0,
                "revenue": [{"currency": "EUR", "amount": "12.5"}],
            },
            signup,
            {**signup, "value": "Video Play"},
        ], goals
    else:
        assert goals == [signup], goals

    assert got["props"]["rows"] == [
        {"value": "plan=pro", "visitors": 1, "visits": 1, "events": 1, "conversion_rate": 50.0}
    ]

    pages = {row.pop("value"): row for row in got["pages"]["rows"]}
    assert set(pages) == {"/shop/index.html", "/shop/pricing"}
    times = {path: row.pop("time_on_page") for path, row in pages.items()}
    expected_pages = {
        "/shop/index.html": {"visitors": 2, "visits": 2, "pageviews": 2, "bounce_rate": 50.0},
        "/shop/pricing": {"visitors": 1, "visits": 1, "pageviews": 1, "bounce_rate": 0.0},
    }
    if tracker.engagement:
        # Both pages fit the window: every engagement reports a scroll depth of 100.
        for row in expected_pages.values():
            row["scroll_depth"] = 100
        # Engaged seconds, from the tracker's own clock.
        assert all(t is not None and 0 <= t <= elapsed for t in times.values()), times
    else:
        assert times["/shop/pricing"] is None  # an exit page has no next view to time it by
    assert pages == expected_pages, pages

"""The analytics dashboard on a phone (390 x 844) in a real Chromium: nothing scrolls sideways.

Staff sign in with TOTP and open `/console/analytics`; the share-link page is checked too. Long
paths, sources and campaigns are seeded so the tables are wider than a phone. The page itself
must not scroll sideways: a wide table scrolls inside its card, the chart fits, and the header
folds its navigation behind a keyboard-operable menu button. At 1280 px the navigation is inline.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pyotp
import pytest
import uvicorn
from fastapi import FastAPI

from avowal.analytics import rollup, share
from avowal.app import create_app
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import EXAMPLE_POLICY, Settings
from avowal.staff import service as staff
from tests.integration.analytics.dashboard_data import add_events, add_site, event, random_events

if TYPE_CHECKING:
    from playwright.sync_api import ViewportSize

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
PHONE: ViewportSize = {"width": 390, "height": 844}
DESKTOP: ViewportSize = {"width": 1280, "height": 900}
DAYS = 14
SITE = "www.example.com"
EMAIL = "privacy.officer@example.com"
PASSWORD = "quiet-Lantern-47-orbit"
# The privacy officer's navigation: the longest of the example policy's roles.
NAV = ["Home", "People", "Requests", "Analytics", "Legal requests", "Break-glass", "Review"]
LONG_PATH = "/blog/2026/how-a-cookie-less-counter-keeps-every-visitor-anonymous-from-day-to-day"
LONG_SOURCE = "weekly-digest.newsletter.example.com"
LONG_CAMPAIGN = "autumn-launch-for-the-self-hosted-privacy-service-2026"

# Records CSP refusals; added by Playwright before the page's own code, so the CSP does not apply.
WATCH_CSP = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (e) => {
  window.__violations.push(e.violatedDirective + " " + e.blockedURI);
});
"""
# Every table: inside a wrapper that scrolls sideways (with its shadow cue), or fitting as it is.
TABLES = """() => [...document.querySelectorAll("main table")].map((t) => {
  const w = t.closest(".an-scroll");
  const box = (w || t).getBoundingClientRect();
  return {
    title: t.closest("section").querySelector("h2").textContent,
    wrapped: w !== null,
    overflowX: w ? getComputedStyle(w).overflowX : "",
    cue: w ? getComputedStyle(w).backgroundImage : "",
    tableWidth: t.scrollWidth,
    room: w ? w.clientWidth : t.parentElement.clientWidth,
    left: box.left,
    right: box.right,
  };
})"""
HEADER = """() => {
  const h = document.querySelector("header.top");
  const s = getComputedStyle(h);
  const inner = h.clientHeight - parseFloat(s.paddingTop) - parseFloat(s.paddingBottom);
  return {height: h.getBoundingClientRect().height, inner,
          line: parseFloat(getComputedStyle(h.querySelector(".brand")).lineHeight)};
}"""


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
    """Store two weeks of events with long paths, sources and campaigns; return a share token."""
    today = dt.datetime.now(dt.UTC).date()
    first = today - dt.timedelta(days=DAYS - 1)
    now = dt.datetime.now(dt.UTC)
    with app.state.sessionmaker.begin() as session:
        site_id = add_site(session, SITE)
        for i in range(DAYS):
            day = first + dt.timedelta(days=i)
            add_events(session, random_events(site_id, day, 1, seed=i, per_day=30))
            noon = dt.datetime.combine(day, dt.time(12), tzinfo=dt.UTC)
            long = {
                "source": LONG_SOURCE,
                "referrer_domain": LONG_SOURCE,
                "utm_source": LONG_SOURCE,
                "utm_medium": "email-newsletter-weekly",
                "utm_campaign": LONG_CAMPAIGN,
                "browser": "Firefox",
                "os": "Linux",
                "device": "desktop",
                "country": "DE",
            }
            add_events(
                session,
                [
                    event(site_id, 1000 * i + v, noon + dt.timedelta(minutes=v), path, **long)
                    for v in range(12)
                    for path in (LONG_PATH, f"{LONG_PATH}/comments-and-replies-page-{v % 3}")
                ],
            )
        token = share.create(session, SITE)
    for i in range(DAYS):
        with app.state.sessionmaker.begin() as session:
            rollup.roll_day(
                session, site_id, first + dt.timedelta(days=i), now=now, visit_minutes=30
            )
    return token


@pytest.fixture
def officer(app: FastAPI) -> pyotp.TOTP:
    """Enrol a privacy officer (who reads analytics); return their TOTP generator."""
    state = app.state
    policy = state.policies.current()
    now = dt.datetime.now(dt.UTC)
    with state.sessionmaker() as session, session.begin():
        added = staff.add(
            session,
            policy,
            state.settings,
            state.secrets,
            email=EMAIL,
            kind="employee",
            role="privacy_officer",
            now=now,
        )
        totp = pyotp.TOTP(staff.totp_secret(state.secrets, added.account))
        token = added.link.rsplit("/", 1)[1]
        # Confirmed with the previous step's code, so the current one is still unused.
        staff.complete_enrolment(
            session,
            policy,
            state.secrets,
            token,
            password=PASSWORD,
            confirm=PASSWORD,
            code=totp.at(now - dt.timedelta(seconds=30)),
            now=now,
        )
        version = policy.policy.staff.confidentiality.version
        staff.acknowledge(session, policy, added.account, version, now=now)
    return totp


def _watch(page: Any, problems: list[str]) -> None:
    page.add_init_script(WATCH_CSP)
    page.on(
        "console",
        lambda m: (
            problems.append(f"console: {m.text} {m.location.get('url', '')}")
            if m.type == "error" and not str(m.location.get("url", "")).endswith("/favicon.ico")
            else None
        ),
    )
    page.on("pageerror", lambda e: problems.append(f"page error: {e}"))
    # Chromium asks for /favicon.ico on its own; every other request must succeed.
    page.on(
        "response",
        lambda r: (
            problems.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.endswith("/favicon.ico")
            else None
        ),
    )


def _check_no_sideways_scroll(page: Any, what: str) -> int:
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{what} scrolls sideways on a phone ({width}px)"
    assert page.evaluate("document.body.scrollWidth") <= PHONE["width"]
    return int(width)


def _check_tables(page: Any) -> None:
    tables = page.evaluate(TABLES)
    assert len(tables) >= 8, tables
    scrolling = 0
    for t in tables:
        # Every table is inside its card's scroller, which itself stays on the screen.
        assert t["wrapped"], f"{t['title']}: not inside a scrolling wrapper"
        assert t["overflowX"] == "auto", t
        assert t["left"] >= 0 and t["right"] <= PHONE["width"], t
        if t["tableWidth"] > t["room"]:
            scrolling += 1
            # The cue: shadows at the edges, drawn as gradients behind the table.
            assert "radial-gradient" in t["cue"], t
    # The five-column tables (pages, sources, campaigns) are wider than a phone and scroll.
    assert scrolling >= 3, tables
    # The long path is shown whole (it wraps, not cut short: a phone has no hover for its
    # title), and the columns beyond the card are reached by scrolling the table, not the page.
    pages = page.locator("section[aria-labelledby='t-page'] .an-scroll")
    path = pages.locator(f"a[title='Show only the visits where Page is {LONG_PATH}']")
    assert path.count() == 1
    assert path.evaluate(
        "e => { const th = e.closest('th'); return th.scrollWidth <= th.clientWidth; }"
    )
    pages.evaluate("e => { e.scrollLeft = 10000; }")
    assert pages.evaluate("e => e.scrollLeft") > 0
    assert page.evaluate("window.scrollX") == 0


def _check_chart(page: Any) -> float:
    chart = page.locator("svg.chart")
    box = chart.bounding_box()
    assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
    assert box["width"] > 300 and box["height"] > 100, box
    # The labels stay readable once the 840-unit-wide chart is scaled down to a phone.
    label = page.locator("svg.chart text.ylabel").first.bounding_box()
    assert label is not None and label["height"] >= 8, label
    return float(label["height"])


def _violations(page: Any) -> list[str]:
    return list(page.evaluate("window.__violations"))


def test_console_dashboard_on_a_phone(
    server: str, shared: str, officer: pyotp.TOTP, tmp_path: Path
) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            context = browser.new_context(viewport=PHONE, device_scale_factor=2)
            page = context.new_page()
            _watch(page, problems)
            page.goto(f"{server}/console/login")
            page.fill("#email", EMAIL)
            page.fill("#password", PASSWORD)
            page.fill("#code", officer.now())
            page.click("button[type=submit]")
            page.wait_for_url(f"{server}/console")

            page.goto(f"{server}/console/analytics?site={SITE}&compare=previous")
            page.locator("svg.chart").wait_for()
            expect(page.locator("h1")).to_have_text(f"Analytics · {SITE}")
            width = _check_no_sideways_scroll(page, "the console dashboard")
            _check_tables(page)
            label = _check_chart(page)

            # The header: one or two rows, the navigation folded behind the menu button.
            header = page.evaluate(HEADER)
            assert header["inner"] <= 2 * header["line"], header
            nav = page.locator("nav[aria-label='Console']")
            expect(nav).to_be_hidden()
            expect(page.locator(".signout button")).to_be_hidden()
            menu = page.locator("header.top summary")
            expect(menu).to_be_visible()
            expect(menu).to_have_accessible_name("Menu")
            page.screenshot(path=str(tmp_path / "dashboard-phone.png"), full_page=True)

            # The menu opens with the keyboard: Tab to it (after the skip link and the brand).
            for _ in range(4):
                page.keyboard.press("Tab")
                if page.evaluate("document.activeElement.tagName") == "SUMMARY":
                    break
            assert page.evaluate("document.activeElement.tagName") == "SUMMARY"
            outline = menu.evaluate("e => getComputedStyle(e).outlineStyle")
            assert outline != "none", "the focused menu button shows no focus ring"
            page.keyboard.press("Enter")
            expect(page.locator("header.top details.menu")).to_have_attribute("open", "")
            expect(nav).to_be_visible()
            expect(nav.locator("a")).to_have_text(NAV)
            for link in nav.locator("a").all():
                expect(link).to_be_visible()
                link_box = link.bounding_box()
                assert link_box is not None and link_box["x"] + link_box["width"] <= 390
            expect(page.locator(".signout button")).to_be_visible()
            expect(nav.locator("a[aria-current='page']")).to_have_text("Analytics")
            # The next Tab reaches the first link; the open menu does not widen the page.
            page.keyboard.press("Tab")
            assert page.evaluate("document.activeElement.textContent") == "Home"
            _check_no_sideways_scroll(page, "the dashboard with its menu open")
            open_height = page.evaluate(HEADER)["height"]
            page.screenshot(path=str(tmp_path / "dashboard-phone-menu.png"), full_page=False)
            # Enter on the button again folds it away.
            page.keyboard.press("Shift+Tab")
            page.keyboard.press("Enter")
            expect(nav).to_be_hidden()
            assert _violations(page) == []
            print(  # the measurements, shown with pytest -s
                f"phone: scrollWidth {width}px, header {header['height']:.0f}px "
                f"(content {header['inner']:.0f}px, line {header['line']:.0f}px; "
                f"{open_height:.0f}px open), chart label {label:.1f}px high"
            )

            # A desktop window: the navigation is inline as before, no menu button.
            page.set_viewport_size(DESKTOP)
            page.reload()
            page.locator("svg.chart").wait_for()
            page.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=False)
            expect(menu).to_be_hidden()
            expect(nav).to_be_visible()
            expect(nav.locator("a")).to_have_text(NAV)
            tops = {round(b["y"]) for b in (a.bounding_box() for a in nav.locator("a").all()) if b}
            assert len(tops) == 1, f"the desktop navigation is not on one row: {tops}"
            expect(page.locator(".signout button")).to_be_visible()
            # Beside the brand, as before.
            brand = page.locator("header.top .brand").bounding_box()
            first = nav.locator("a").first.bounding_box()
            assert brand is not None and first is not None
            assert abs(brand["y"] - first["y"]) < header["line"], (brand, first)
            assert page.evaluate("document.documentElement.scrollWidth") <= DESKTOP["width"]
            page.screenshot(path=str(tmp_path / "dashboard-desktop.png"), full_page=False)
            assert _violations(page) == []
        finally:
            browser.close()
    assert problems == []


def test_share_page_on_a_phone(server: str, shared: str, tmp_path: Path) -> None:
    _need_chromium()
    from playwright.sync_api import expect, sync_playwright

    problems: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport=PHONE, device_scale_factor=2)
            _watch(page, problems)
            page.goto(f"{server}/share/{shared}?compare=previous")
            page.locator("svg.chart").wait_for()
            width = _check_no_sideways_scroll(page, "the share page")
            _check_tables(page)
            label = _check_chart(page)
            # No one is signed in: the header is the brand alone, one row, no menu.
            header = page.evaluate(HEADER)
            assert header["inner"] <= header["line"] * 1.5, header
            expect(page.locator("header.top summary")).to_have_count(0)
            # A filter with a long value keeps the page within the screen too.
            with page.expect_navigation(wait_until="load"):  # its stylesheet applied too
                page.locator("section[aria-labelledby='t-source'] a", has_text=LONG_SOURCE).click()
            page.locator(".an-filters li").wait_for()
            _check_no_sideways_scroll(page, "the filtered share page")
            page.screenshot(path=str(tmp_path / "share-phone.png"), full_page=True)
            assert _violations(page) == []
            print(  # the measurements, shown with pytest -s
                f"share page: scrollWidth {width}px, header {header['height']:.0f}px, "
                f"chart label {label:.1f}px high"
            )
        finally:
            browser.close()
    assert problems == []

"""A real Chromium loads a page with the tracker: page views, an SPA navigation and a custom
event arrive, and the browser is left with no cookie and nothing in storage."""

from __future__ import annotations

import functools
import http.server
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select
from typer.testing import CliRunner

from avowal.analytics.models import Event
from avowal.cli import app as cli
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import Settings
from tests import pg, server
from tests.conftest import REPO_ROOT

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
# Headless Chromium announces itself as "HeadlessChrome", which the ingest rightly drops as a
# bot; the test browser presents the user agent of the desktop Chrome a visitor would use.
VISITOR_UA = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script>
window.avowal = window.avowal || function () {
  (window.avowal.q = window.avowal.q || []).push(arguments);
};
avowal("early", {queued: true});
</script>
<script defer data-domain="localhost" data-exclude="/shop/private*" src="{tracker}"></script>
</head><body>
<button id="signup" onclick="avowal('signup', {plan: 'pro', seats: 3})">Sign up</button>
<button id="pricing" onclick="history.pushState({}, '', '/shop/pricing')">Pricing</button>
<button id="same" onclick="history.replaceState({}, '', '/shop/pricing?tab=2')">Tab</button>
<button id="private" onclick="history.pushState({}, '', '/shop/private/1')">Private</button>
<button id="back" onclick="history.pushState({}, '', '/shop/pricing')">Back</button>
</body></html>
"""


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
    """Serve the shop's page from another origin (http://localhost:<port>/shop/)."""
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


def wait_for_events(engine: Engine, count: int, timeout: float = 15.0) -> list[Any]:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as conn:
            rows = list(conn.execute(select(Event).order_by(Event.id)).mappings())
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_tracker_sends_pageviews_spa_navigations_and_custom_events(
    tmp_path: Path, site: int
) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    policy = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
    env = server.serve_env(tmp_path, database_url, policy)
    # The example policy counts www.contactmonkey.com; this shop is added from the command line.
    added = CliRunner().invoke(cli, ["analytics", "site", "add", "localhost"], env=env)
    assert added.exit_code == 0, added.output
    try:
        with server.running(env, tmp_path / "serve.log") as avowal:
            page_html = PAGE.replace("{tracker}", f"{avowal.url}/a.js")
            (tmp_path / "site" / "shop" / "index.html").write_text(page_html)
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    context = browser.new_context(user_agent=VISITOR_UA)
                    page = context.new_page()
                    url = f"http://localhost:{site}/shop/index.html"
                    page.goto(f"{url}?utm_source=newsletter&email=ada%40example.com#top")
                    rows = wait_for_events(engine, 2)
                    assert len(rows) == 2, (rows, avowal.output())
                    page.click("#signup")
                    assert len(wait_for_events(engine, 3)) == 3, avowal.output()
                    page.click("#pricing")
                    assert len(wait_for_events(engine, 4)) == 4, avowal.output()
                    page.click("#same")  # same path, new query: not a new page view
                    page.evaluate("avowal('after', {})")
                    assert len(wait_for_events(engine, 5)) == 5, avowal.output()
                    # Excluded by the page's data-exclude: neither the view nor the event is sent.
                    page.click("#private")
                    page.evaluate("avowal('hidden')")
                    page.click("#back")
                    rows = wait_for_events(engine, 6)
                    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
                    assert page.evaluate("document.cookie") == ""
                    assert context.cookies() == []
                    context.close()
                finally:
                    browser.close()
    finally:
        engine.dispose()
    seen = sorted((r["name"], r["path"], r["utm_source"]) for r in rows)
    assert seen == [
        ("after", "/shop/pricing", None),
        ("early", "/shop/index.html", "newsletter"),
        ("pageview", "/shop/index.html", "newsletter"),
        ("pageview", "/shop/pricing", None),
        ("pageview", "/shop/pricing", None),
        ("signup", "/shop/index.html", "newsletter"),
    ], rows
    by_name = {r["name"]: r for r in rows}
    assert by_name["signup"]["props"] == {"plan": "pro", "seats": "3"}
    assert by_name["early"]["props"] == {"queued": "true"}
    assert by_name["after"]["props"] is None
    pageview = by_name["pageview"]
    assert (pageview["browser"], pageview["os"], pageview["device"]) == (
        "Chrome",
        "Linux",
        "desktop",
    )
    assert len({r["visitor"] for r in rows}) == 1  # one visitor, the same day
    assert "ada" not in str(rows)


def readme_snippet() -> str:
    """Return the README's tracker snippet (the html block of "Cookie-less analytics")."""
    text = (REPO_ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index("## Cookie-less analytics") :]
    start = section.index("```html\n") + len("```html\n")
    return section[start : section.index("\n```", start)]


def test_the_readmes_snippet_works_as_pasted(tmp_path: Path, site: int) -> None:
    """The README's snippet, pasted into a page (only its addresses changed): its custom event
    arrives, and the page throws nothing (a call before the deferred script loads is queued)."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    snippet = readme_snippet()
    assert 'src="http://127.0.0.1:8000/a.js"' in snippet and "avowal('signup'" in snippet
    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    policy = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
    env = server.serve_env(tmp_path, database_url, policy)
    added = CliRunner().invoke(cli, ["analytics", "site", "add", "localhost"], env=env)
    assert added.exit_code == 0, added.output
    errors: list[str] = []
    try:
        with server.running(env, tmp_path / "serve.log") as avowal:
            pasted = snippet.replace("http://127.0.0.1:8000", avowal.url).replace(
                'data-domain="www.contactmonkey.com"', 'data-domain="localhost"'
            )
            (tmp_path / "site" / "shop" / "index.html").write_text(
                f"<!doctype html><html><head><meta charset='utf-8'>{pasted}</head>"
                "<body>Shop</body></html>"
            )
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    page = browser.new_context(user_agent=VISITOR_UA).new_page()
                    page.on("pageerror", lambda exc: errors.append(str(exc)))
                    page.goto(f"http://localhost:{site}/shop/index.html")
                    rows = wait_for_events(engine, 2)
                finally:
                    browser.close()
    finally:
        engine.dispose()
    assert errors == []
    assert sorted(r["name"] for r in rows) == ["pageview", "signup"], rows
    assert next(r for r in rows if r["name"] == "signup")["props"] == {"plan": "pro"}

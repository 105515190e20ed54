"""Switching from Plausible in one line: pages that keep Plausible's snippet (its queue stub and
`plausible(...)` calls) but load avowal's `/js/script.*.js` are counted exactly, with each
extension (outbound links, file downloads, tagged events, hash routing, page-view props, manual
page views), from a subdomain of the counted site without a CORS error; another origin's
pre-flight is refused. The browser is left with no cookie and nothing in storage.

Chromium resolves every `*.test` name to 127.0.0.1, so one local server answers the shop
(`shop.acme.test`, a subdomain of the counted `acme.test`), a partner site and a stranger.
"""

from __future__ import annotations

import functools
import http.server
import json
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
from tests import server
from tests.browser.test_tracker import ARGS, CHROMIUM, VISITOR_UA, chromium_or_skip
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

SITE = "acme.test"
STUB = (
    "<script>window.plausible = window.plausible || function() "
    "{ (window.plausible.q = window.plausible.q || []).push(arguments) }</script>"
)
SHOP = """<!doctype html>
<html><head><meta charset="utf-8"><title>Shop</title>
<script defer data-domain="acme.test"
  src="{avowal}/js/script.file-downloads.outbound-links.tagged-events.js"></script>
{stub}
<script>
plausible('Signup', {props: {plan: 'team'}});
plausible('Purchase', {revenue: {amount: 12.5, currency: 'EUR'}, interactive: false});
plausible('404', {props: {path: document.location.pathname}});
</script>
</head><body>
<button id="tagged"
  class="big plausible-event-name=Newsletter+Signup plausible-event-position=footer"
  >Subscribe</button>
<a id="download" href="/files/price-list.txt?v=2" target="_blank">Price list</a>
<a id="inside" href="/shop/about.html" target="_blank">About</a>
<form id="contact" class="plausible-event-name=Contact" action="/shop/thanks.html">
  <input name="topic" value="pricing"><button id="send">Send</button>
</form>
</body></html>
"""
PARTNERS = """<!doctype html>
<html><head><meta charset="utf-8"><title>Partners</title>
<script defer data-domain="acme.test"
  src="{avowal}/js/script.file-downloads.outbound-links.tagged-events.js"></script>
</head><body><a id="partner" href="http://partner.test:{port}/landing.html">Our partner</a>
</body></html>
"""
HASH = """<!doctype html>
<html><head><meta charset="utf-8"><title>App</title>
<script defer data-domain="acme.test" event-section="docs"
  src="{avowal}/js/script.pageview-props.hash.js"></script>
</head><body>App</body></html>
"""
MANUAL = """<!doctype html>
<html><head><meta charset="utf-8"><title>Account</title>
<script defer data-domain="acme.test" src="{avowal}/js/script.manual.js"></script>
{stub}
<script>plausible('pageview', {u: 'http://shop.acme.test:{port}/account/redacted'})</script>
</head><body>Account</body></html>
"""
STRANGER = """<!doctype html>
<html><head><meta charset="utf-8"><title>Elsewhere</title></head><body>Elsewhere</body></html>
"""
PLAIN = "<!doctype html><html><head><title>{t}</title></head><body>{t}</body></html>"
# A JSON body needs a pre-flight, which is where CORS is decided.
JSON_POST = """async (api) => {
  try {
    const r = await fetch(api, {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({n: 'Cors check', u: location.href, d: 'acme.test'})});
    return r.status;
  } catch (e) { return 'refused: ' + e.name; }
}"""


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture
def site(tmp_path: Path) -> Iterator[int]:
    """Serve tmp_path/site on a free port of 127.0.0.1 (any *.test name in the browser)."""
    root = tmp_path / "site"
    root.mkdir()
    handler = functools.partial(QuietHandler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield httpd.server_address[1]
    finally:
        httpd.shutdown()
        httpd.server_close()


def write_pages(root: Path, avowal: str, port: int) -> None:
    for folder in ("shop", "hash", "manual", "files"):
        (root / folder).mkdir(parents=True, exist_ok=True)

    def page(text: str) -> str:
        return text.replace("{avowal}", avowal).replace("{port}", str(port)).replace("{stub}", STUB)

    (root / "shop" / "index.html").write_text(page(SHOP))
    (root / "shop" / "partners.html").write_text(page(PARTNERS))
    (root / "shop" / "thanks.html").write_text(PLAIN.replace("{t}", "Thanks"))
    (root / "shop" / "about.html").write_text(PLAIN.replace("{t}", "About"))
    (root / "landing.html").write_text(PLAIN.replace("{t}", "Partner"))
    (root / "stranger.html").write_text(STRANGER)
    (root / "favicon.ico").write_bytes(b"")  # else each page logs a 404 of its own
    (root / "files" / "price-list.txt").write_text("Fictional prices\n")
    (root / "hash" / "index.html").write_text(page(HASH))
    (root / "manual" / "index.html").write_text(page(MANUAL))


def stored(engine: Engine) -> list[tuple[str, str, Any]]:
    with engine.connect() as conn:
        rows = conn.execute(select(Event.name, Event.path, Event.props).order_by(Event.id))
        return [(str(n), str(p), props) for n, p, props in rows]


def wait_for(engine: Engine, count: int, timeout: float = 15.0) -> list[tuple[str, str, Any]]:
    deadline = time.monotonic() + timeout
    while True:
        rows = stored(engine)
        if len(rows) >= count or time.monotonic() > deadline:
            return rows
        time.sleep(0.1)


def test_plausible_snippet_pointed_at_avowal_is_counted_exactly(tmp_path: Path, site: int) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    policy = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
    env = server.serve_env(tmp_path, database_url, policy)
    added = CliRunner().invoke(cli, ["analytics", "site", "add", SITE], env=env)
    assert added.exit_code == 0, added.output
    shop = f"http://shop.acme.test:{site}"
    errors: list[str] = []
    sent: list[dict[str, Any]] = []
    try:
        with server.running(env, tmp_path / "serve.log") as avowal:
            write_pages(tmp_path / "site", avowal.url, site)
            api = f"{avowal.url}/api/event"
            with sync_playwright() as p:
                browser = p.chromium.launch(
                    executable_path=str(CHROMIUM),
                    args=[*ARGS, "--host-resolver-rules=MAP *.test 127.0.0.1"],
                )
                try:
                    context = browser.new_context(user_agent=VISITOR_UA)
                    page = context.new_page()
                    page.on(
                        "console",
                        lambda m: (
                            errors.append(f"{m.text} {m.location}") if m.type == "error" else None
                        ),
                    )
                    page.on("pageerror", lambda e: errors.append(f"page error: {e}"))
                    page.on(
                        "request",
                        lambda r: (
                            sent.append(json.loads(r.post_data or "{}"))
                            if r.url == api and r.method == "POST"
                            else None
                        ),
                    )
                    # Calls queued by Plausible's stub before the deferred script loaded.
                    page.goto(f"{shop}/shop/index.html")
                    rows = wait_for(engine, 4)
                    assert len(rows) == 4, (rows, avowal.output())
                    # The callback gets the answer, readable across origins (CORS).
                    status = page.evaluate(
                        "new Promise(r => plausible('Callback', {callback: x => r(x.status)}))"
                    )
                    assert status == 202
                    # A pre-flighted request from a subdomain of the counted site.
                    assert page.evaluate(JSON_POST, api) == 202
                    page.click("#tagged")
                    with context.expect_page() as opened:
                        page.click("#download")
                    opened.value.close()
                    with context.expect_page() as opened:
                        page.click("#inside")  # a link on the same host is no event
                    opened.value.close()
                    assert len(wait_for(engine, 8)) == 8, avowal.output()
                    page.click("#send")  # the tagged form is sent after the event
                    page.wait_for_url("**/shop/thanks.html?topic=pricing")
                    page.goto(f"{shop}/shop/partners.html")
                    page.click("#partner")  # followed once the event is sent
                    page.wait_for_url(f"http://partner.test:{site}/landing.html")
                    assert len(wait_for(engine, 11)) == 11, avowal.output()
                    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
                    # Hash routing: each fragment route is a page (with the tag's props).
                    page.goto(f"{shop}/hash/index.html#/home")
                    wait_for(engine, 12)
                    page.evaluate("location.hash = '#/pricing'")
                    assert len(wait_for(engine, 13)) == 13, avowal.output()
                    # Manual page views: a custom location; pushState alone sends nothing.
                    page.goto(f"{shop}/manual/index.html")
                    wait_for(engine, 14)
                    page.evaluate("history.pushState({}, '', '/manual/step-2')")
                    page.evaluate("plausible('pageview')")
                    assert len(wait_for(engine, 15)) == 15, avowal.output()
                    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
                    assert page.evaluate("document.cookie") == ""
                    assert errors == [], errors
                    # Another origin: its pre-flight is refused, nothing is stored.
                    page.goto(f"http://stranger.test:{site}/stranger.html")
                    refused = page.evaluate(JSON_POST, api)
                    assert refused == "refused: TypeError"
                    time.sleep(0.5)
                    assert context.cookies() == []
                    context.close()
                finally:
                    browser.close()
    finally:
        engine.dispose()
    rows = stored(engine)
    url = f"http://shop.acme.test:{site}"
    assert sorted(rows, key=repr) == sorted(
        [
            ("pageview", "/shop/index.html", None),
            ("Signup", "/shop/index.html", {"plan": "team"}),
            ("Purchase", "/shop/index.html", None),
            ("404", "/shop/index.html", {"path": "/shop/index.html"}),
            ("Callback", "/shop/index.html", None),
            ("Cors check", "/shop/index.html", None),
            ("Newsletter Signup", "/shop/index.html", {"position": "footer"}),
            ("File Download", "/shop/index.html", {"url": f"{url}/files/price-list.txt"}),
            ("Contact", "/shop/index.html", None),
            ("pageview", "/shop/partners.html", None),
            (
                "Outbound Link: Click",
                "/shop/partners.html",
                {"url": f"http://partner.test:{site}/landing.html"},
            ),
            ("pageview", "/hash/index.html#/home", {"section": "docs"}),
            ("pageview", "/hash/index.html#/pricing", {"section": "docs"}),
            ("pageview", "/account/redacted", None),
            ("pageview", "/manual/step-2", None),
        ],
        key=repr,
    ), rows
    # What went on the wire is Plausible's payload: revenue as `$`, non-interactive as `i`.
    purchase = next(s for s in sent if s.get("n") == "Purchase")
    assert purchase["$"] == {"amount": 12.5, "currency": "EUR"}
    assert purchase["i"] is False
    assert all(s["d"] == SITE for s in sent)
    assert not any("i" in s for s in sent if s.get("n") != "Purchase")

"""A real Chromium on a site that loads avowal's consent banner (/c.js) from a real avowal serve.

First visit, each kind of choice recorded on the server with the banner version shown, blocked
scripts running only after consent and once, withdrawal deleting cookies, Global Privacy Control
(header and navigator flag), cookies disabled, keyboard-only use, a phone-width layout, the
re-prompt after a declaration change, Consent Mode updates and French.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from avowal.consent import banner
from avowal.db import migrate
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.lifecycle import service as lifecycle
from avowal.policy.loader import parse_text
from avowal.settings import Settings
from tests import server
from tests.browser import consent_site
from tests.browser.consent_site import banner_version, consent_cookie, history
from tests.browser.test_tracker import ARGS, CHROMIUM, chromium_or_skip
from tests.conftest import REPO_ROOT
from tests.factories import policy_text

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
DIALOG = "[role=dialog]"
ACCEPT = "[data-avowal-consent=accept-all]"
REJECT = "[data-avowal-consent=reject-all]"
CUSTOMISE = "[data-avowal-consent=customise]"
SAVE = "[data-avowal-consent=save]"
GPC_FLAG = "Object.defineProperty(Navigator.prototype, 'globalPrivacyControl', {get: () => true})"
# A browser that ignores every cookie the page writes (and shows none).
NO_COOKIES = """
Object.defineProperty(Document.prototype, 'cookie', {
  get: () => '', set: () => {}, configurable: true
});
"""
CONSENT_CALLS = "(window.dataLayer || []).map(a => Array.from(a)).filter(a => a[0] === 'consent')"


@dataclass
class World:
    avowal: str
    site: consent_site.Site
    browser: Any
    database_url: str
    data_dir: Path


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    """One avowal serve, one site on another port, one Chromium for every test here."""
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    tmp = tmp_path_factory.mktemp("banner")
    database_url = f"sqlite:///{tmp / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp))
    migrate.upgrade(engine)
    engine.dispose()
    with consent_site.serving() as site:
        env = server.serve_env(tmp, database_url, POLICY)
        env["AVOWAL_CONSENT_ORIGINS"] = json.dumps([site.url])
        env["AVOWAL_POLICY_REFRESH_SECONDS"] = "0"
        port = server.free_port()  # the banner's links and endpoint name the public URL
        env["AVOWAL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
        with server.running(env, tmp / "serve.log", port) as avowal, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                yield World(avowal.url, site, browser, database_url, tmp)
            finally:
                browser.close()


def _open(world: World, path: str = "/shop/", lang: str = "en", **context: Any) -> Any:
    ctx = world.browser.new_context(**context)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    page.errors = errors
    page.goto(world.site.page(path, world.avowal, lang))
    return page


def _wait_cookie(page: Any, ending: str, version: str = "") -> str:
    """Wait until the consent cookie grants ``ending`` (under ``version``, if given)."""
    page.wait_for_function(
        """([e, v]) => document.cookie.split('; ').some(c => {
          const p = c.split('=')[0] === 'cm_consent' ? c.slice(11).split('.') : [];
          return p.length === 4 && p[3] === e && (!v || p[2] === v);
        })""",
        arg=[ending, version],
    )
    value = consent_cookie(page.context)
    assert value is not None
    return value


def _recorded(world: World, value: str, count: int = 1) -> list[dict[str, Any]]:
    """Return the receipts under the cookie's consent id, once ``count`` are there."""
    _, consent_id, _, _ = value.split(".")
    receipts = history(world.avowal, consent_id)
    assert len(receipts) == count, receipts
    return receipts


def test_first_visit_shows_the_banner_and_runs_nothing(world: World) -> None:
    page = _open(world)
    dialog = page.locator(DIALOG)
    dialog.wait_for()
    assert dialog.get_attribute("aria-modal") == "false"
    title = page.locator("#" + str(dialog.get_attribute("aria-labelledby")))
    assert title.inner_text() == "Cookies"
    described = page.locator("#" + str(dialog.get_attribute("aria-describedby")))
    assert "cookies" in described.inner_text()
    assert page.evaluate("document.activeElement.closest('[role=dialog]') !== null")
    link = dialog.get_by_role("link", name="Privacy policy")
    assert link.get_attribute("href") == f"{world.avowal}/privacy"
    # Accept all and Reject all: the same size and the same look, side by side.
    dialog.evaluate("e => Promise.all(e.getAnimations().map(a => a.finished))")  # slid in
    accept, reject = page.locator(ACCEPT), page.locator(REJECT)
    a, r = accept.bounding_box(), reject.bounding_box()
    assert (a["width"], a["height"]) == (r["width"], r["height"])
    assert a["y"] == r["y"]
    look = "e => ['backgroundColor','color','fontSize','fontWeight','borderTopWidth']"
    look += ".map(k => getComputedStyle(e)[k]).join()"
    assert accept.evaluate(look) == reject.evaluate(look)
    # Fixed at the bottom of the viewport: the page's content does not move.
    assert dialog.evaluate("e => getComputedStyle(e).position") == "fixed"
    box, height = dialog.bounding_box(), page.viewport_size["height"]
    assert abs(box["y"] + box["height"] - height) <= 1
    # Nothing blocked has run or loaded, no cookie is set, Consent Mode says denied.
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") == []
    assert page.locator("#ad").get_attribute("src") is None
    assert page.context.cookies() == []
    assert page.evaluate(CONSENT_CALLS) == [
        [
            "consent",
            "default",
            {
                "ad_storage": "denied",
                "analytics_storage": "denied",
                "ad_user_data": "denied",
                "ad_personalization": "denied",
            },
        ]
    ]
    assert page.errors == []
    page.context.close()


def test_accept_all_is_recorded_and_runs_each_script_once(world: World) -> None:
    page = _open(world)
    page.click(ACCEPT)
    assert page.locator(DIALOG).is_hidden()
    value = _wait_cookie(page, "analytics-advertising-performance")
    version = banner_version(world.avowal)
    (receipt,) = _recorded(world, value)
    assert receipt["banner_version"] == version == value.split(".")[2]
    assert receipt["method"] == "banner"
    assert receipt["granted"] == ["analytics", "advertising", "performance"]
    assert receipt["refused"] == []
    assert receipt["path"] == "/shop/"
    assert sorted(page.evaluate("window.ran")) == ["advertising", "analytics", "performance"]
    page.wait_for_function("document.getElementById('ad').getAttribute('src') === '/frame.html'")
    assert page.evaluate("avowal.consent.get()") == ["analytics", "advertising", "performance"]
    # The analytics tracker (a.js) loaded later replaces window.avowal: the API stays on it.
    tracked = "window.avowal = function track() {}; avowal.name + ' ' + avowal.consent.get()"
    assert page.evaluate(tracked) == "track analytics,advertising,performance"
    assert page.evaluate(CONSENT_CALLS)[-1] == [
        "consent",
        "update",
        {
            "ad_storage": "granted",
            "analytics_storage": "granted",
            "ad_user_data": "granted",
            "ad_personalization": "granted",
        },
    ]
    # Choosing again runs nothing twice; a blocked script added later runs once.
    page.evaluate("avowal.consent.open()")
    page.click(ACCEPT)
    page.evaluate(
        "() => { const s = document.createElement('script'); s.type = 'text/plain';"
        " s.dataset.category = 'analytics'; s.text = 'ran.push(\"late\")';"
        " document.body.append(s); }"
    )
    page.wait_for_function("window.ran.includes('late')")
    page.wait_for_timeout(100)
    assert sorted(page.evaluate("window.ran")) == [
        "advertising",
        "analytics",
        "late",
        "performance",
    ]
    # The next page: no banner, the scripts run at once.
    page.reload()
    page.wait_for_function("window.ran.length === 3")
    assert page.locator(DIALOG).count() == 0
    assert page.errors == []
    page.context.close()


def test_reject_all_is_recorded_and_nothing_runs(world: World) -> None:
    page = _open(world)
    page.click(REJECT)
    value = _wait_cookie(page, "none")
    (receipt,) = _recorded(world, value)
    assert receipt["banner_version"] == banner_version(world.avowal)
    assert receipt["granted"] == []
    assert receipt["refused"] == ["analytics", "advertising", "performance"]
    page.reload()
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") == []
    assert page.locator(DIALOG).count() == 0
    assert {c["name"] for c in page.context.cookies()} == {"cm_consent"}
    assert page.evaluate(CONSENT_CALLS)[-1][1] == "default"
    page.context.close()


def test_per_category_choice_and_withdrawal_deletes_cookies(world: World) -> None:
    page = _open(world)
    page.click(CUSTOMISE)
    panel = page.locator(DIALOG)
    necessary = panel.get_by_role("switch", name="Strictly necessary")
    assert necessary.is_checked() and necessary.is_disabled()
    assert "Always on" in panel.inner_text()
    panel.get_by_text("Cookies in this category").first.click()
    assert panel.get_by_text("cm_consent").is_visible()
    panel.get_by_role("switch", name="Analytics").check()
    panel.get_by_role("switch", name="Advertising").check()
    page.click(SAVE)
    value = _wait_cookie(page, "analytics-advertising")
    (receipt,) = _recorded(world, value)
    assert receipt["method"] == "settings"
    assert receipt["granted"] == ["analytics", "advertising"]
    assert receipt["refused"] == ["performance"]
    assert sorted(page.evaluate("window.ran")) == ["advertising", "analytics"]
    names = {c["name"] for c in page.context.cookies()}
    assert names == {"cm_consent", "cm_usage", "cm_content"}
    # Withdraw analytics through the site's "Cookie settings" link: as easy as giving.
    page.click("#settings")
    page.click(CUSTOMISE)
    assert page.get_by_role("switch", name="Analytics").is_checked()
    page.get_by_role("switch", name="Analytics").uncheck()
    page.click(SAVE)
    value = _wait_cookie(page, "advertising")
    receipts = _recorded(world, value, 2)
    assert receipts[0]["granted"] == ["advertising"]
    assert receipts[0]["refused"] == ["analytics", "performance"]
    names = {c["name"] for c in page.context.cookies()}
    assert names == {"cm_consent", "cm_content"}
    # Granted again in the same page: analytics' elements do not run again.
    page.evaluate("avowal.consent.open()")
    page.click(ACCEPT)
    _wait_cookie(page, "analytics-advertising-performance")
    page.wait_for_function("window.ran.includes('performance')")
    assert sorted(page.evaluate("window.ran")) == ["advertising", "analytics", "performance"]
    assert page.errors == []
    page.context.close()


def test_navigator_gpc_turns_advertising_off_and_is_recorded(world: World) -> None:
    ctx = world.browser.new_context()
    ctx.add_init_script(GPC_FLAG)
    page = ctx.new_page()
    page.goto(world.site.page("/shop/", world.avowal))
    dialog = page.locator(DIALOG)
    assert "Global Privacy Control" in dialog.inner_text()
    value = _wait_cookie(page, "none")
    (receipt,) = _recorded(world, value)
    assert (receipt["method"], receipt["gpc"], receipt["granted"]) == ("gpc", True, [])
    page.click(CUSTOMISE)
    assert page.get_by_role("switch", name="Advertising").is_disabled()
    page.click(ACCEPT)
    value = _wait_cookie(page, "analytics-performance")
    receipts = _recorded(world, value, 2)
    # The flag alone (no Sec-GPC header in this test) is the banner's to honour: it offers no
    # advertising, so the server records a plain banner choice without it.
    assert receipts[0]["method"] == "banner"
    assert receipts[0]["granted"] == ["analytics", "performance"]
    assert sorted(page.evaluate("window.ran")) == ["analytics", "performance"]
    assert page.locator("#ad").get_attribute("src") is None
    # Once per version: the next page records nothing more.
    page.reload()
    page.wait_for_timeout(300)
    _recorded(world, value, 2)
    ctx.close()


def test_sec_gpc_header_keeps_advertising_off(world: World) -> None:
    page = _open(world, extra_http_headers={"Sec-GPC": "1"})
    page.click(ACCEPT)
    value = _wait_cookie(page, "analytics-performance")
    (receipt,) = _recorded(world, value)
    assert (receipt["gpc"], receipt["refused"]) == (True, ["advertising"])
    page.wait_for_timeout(100)
    assert "advertising" not in page.evaluate("window.ran")
    assert page.evaluate("avowal.consent.get()") == ["analytics", "performance"]
    page.context.close()


def test_cookies_disabled_the_banner_works_for_the_page(world: World) -> None:
    ctx = world.browser.new_context()
    ctx.add_init_script(NO_COOKIES)
    page = ctx.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    posts: list[str] = []
    page.on("request", lambda r: r.method == "POST" and posts.append(r.url))
    page.goto(world.site.page("/shop/", world.avowal))
    page.click(ACCEPT)
    page.wait_for_function("window.ran.length === 3")
    page.wait_for_timeout(300)
    assert page.locator(DIALOG).is_hidden()  # no loop: it stays closed
    assert len(posts) == 1
    assert ctx.cookies() == []
    assert page.evaluate("avowal.consent.get()") == ["analytics", "advertising", "performance"]
    assert errors == []
    ctx.close()


def test_keyboard_only(world: World) -> None:
    page = _open(world)
    page.locator(DIALOG).wait_for()
    page.focus("#start")
    page.evaluate("avowal.consent.open()")  # already open: nothing changes
    page.click("#settings")  # a reader reaches "Cookie settings" and opens the banner anew
    focused = "document.activeElement.closest('[role=dialog]') !== null"
    assert page.evaluate(focused)
    tabbed: list[str] = []
    for _ in range(4):
        page.keyboard.press("Tab")
        tabbed.append(
            page.evaluate(
                "document.activeElement.getAttribute('data-avowal-consent')"
                " || document.activeElement.tagName"
            )
        )
    assert tabbed == ["A", "accept-all", "reject-all", "customise"]
    outline = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    assert outline not in ("none", "")
    page.keyboard.press("Enter")  # Customise
    assert page.evaluate("document.activeElement.getAttribute('role')") == "switch"
    assert page.evaluate("document.activeElement.name") == "analytics"
    page.keyboard.press("Space")
    assert page.get_by_role("switch", name="Analytics").is_checked()
    page.keyboard.press("Escape")  # back from the settings view
    assert page.locator(SAVE).is_hidden()
    assert page.evaluate("document.activeElement.dataset.avowalConsent") == "customise"
    page.keyboard.press("Enter")
    for _ in range(20):
        if page.evaluate("document.activeElement.dataset.avowalConsent") == "save":
            break
        page.keyboard.press("Tab")
    page.keyboard.press("Space")
    value = _wait_cookie(page, "analytics")
    assert _recorded(world, value)[0]["method"] == "settings"
    assert page.evaluate("document.activeElement.id") == "settings"  # focus is back
    # Reopened with a choice made: Escape closes it and focus returns again.
    page.focus("#start")
    page.evaluate("avowal.consent.open()")
    assert page.evaluate(focused)
    page.keyboard.press("Escape")
    assert page.locator(DIALOG).is_hidden()
    assert page.evaluate("document.activeElement.id") == "start"
    assert page.errors == []
    page.context.close()


def test_phone_width_and_reduced_motion(world: World) -> None:
    page = _open(world, viewport={"width": 390, "height": 844}, reduced_motion="reduce")
    dialog = page.locator(DIALOG)
    dialog.wait_for()
    assert dialog.evaluate("e => getComputedStyle(e).animationName") == "none"
    width = "document.documentElement.scrollWidth <= window.innerWidth"
    assert page.evaluate(width), "the page scrolls sideways at 390 px"
    for button in (ACCEPT, REJECT, CUSTOMISE):
        box = page.locator(button).bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= 390
        assert box["y"] + box["height"] <= 844 and box["height"] >= 44
    page.click(CUSTOMISE)
    assert page.evaluate(width)
    box = dialog.bounding_box()
    assert box["height"] <= 844 * 0.86
    assert page.locator(SAVE).is_visible()
    page.click(SAVE)
    _wait_cookie(page, "none")
    page.context.close()


def test_offline_choice_is_kept_and_sent_on_the_next_page(world: World) -> None:
    page = _open(world)
    endpoint = f"{world.avowal}/v1/consents/cookies"
    page.route(endpoint, lambda route: route.abort())
    page.click(REJECT)
    # A local id, marked pending (".p") in the consent cookie itself while the server is out of
    # reach: nothing else is stored (no undeclared storage key for the scanner to find).
    page.wait_for_function("document.cookie.includes('.none.p')")
    value = consent_cookie(page.context)
    assert value is not None and value.endswith(".none.p")
    _, consent_id, _, _, _ = value.split(".")
    assert httpx.get(f"{endpoint}/{consent_id}").status_code == 404
    assert page.evaluate("localStorage.length + sessionStorage.length") == 0
    page.unroute(endpoint)
    page.reload()
    value = _wait_cookie(page, "none")  # recorded now: the server's value, no longer pending
    assert value.split(".")[1] == consent_id
    assert history(world.avowal, consent_id)[0]["granted"] == []
    assert page.locator(DIALOG).count() == 0
    page.context.close()


def test_french_from_the_page_language(world: World) -> None:
    page = _open(world, path="/fr/", lang="fr", locale="en-US")
    dialog = page.locator(DIALOG)
    assert dialog.get_attribute("lang") == "fr"
    assert page.locator(ACCEPT).inner_text() == "Tout accepter"
    assert page.locator(REJECT).inner_text() == "Tout refuser"
    page.click(REJECT)
    value = _wait_cookie(page, "none")
    assert _recorded(world, value)[0]["language"] == "fr"
    page.context.close()


def _another_cookie(d: dict[str, Any]) -> None:
    d["cookies"].append(
        {
            "name": "_ga_*",
            "provider": "Google",
            "category": "analytics",
            "lifetime": "13 months",
            "purpose": "analytics.reporting",
            "description": "Counts visits.",
        }
    )


def _announced(d: dict[str, Any]) -> None:
    _another_cookie(d)
    d["policy"]["effective"] = dt.date.today() + dt.timedelta(days=730)
    d["retention"][0]["days"] = 1095


def _publish(world: World, change: Callable[[dict[str, Any]], None], summary: str = "") -> None:
    """Publish a changed policy into the database while the server runs."""
    engine = make_engine(Settings(database_url=world.database_url, data_dir=world.data_dir))
    try:
        with make_sessionmaker(engine).begin() as session:
            lifecycle.publish(
                session,
                parse_text(policy_text(change)),
                by="officer@example.com",
                summary=summary or None,
            )
    finally:
        engine.dispose()


# Collects Content-Security-Policy violations and largest paints before the page's scripts run.
VIOLATIONS = """
window.__violations = [];
addEventListener("securitypolicyviolation", e => __violations.push(e.violatedDirective));
window.__lcp = [];
new PerformanceObserver(l => l.getEntries().forEach(e => __lcp.push(e.startTime)))
  .observe({ type: "largest-contentful-paint", buffered: true });
"""
LOADER_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="script-src {csp} {avowal}">
<title>Shop</title>
{tag}
</head><body><main><h1>Shop</h1><p>Fictional goods for fictional people.</p></main></body></html>
"""


def _loader_page(world: World, path: str, code: str) -> Any:
    tag = f'<script data-avowal="{world.avowal}">{code}</script>'
    csp = banner.LOADER_CSP
    world.site.pages[path] = LOADER_PAGE.format(csp=csp, avowal=world.avowal, tag=tag)
    page = world.browser.new_context().new_page()
    page.add_init_script(VIOLATIONS)
    page.goto(world.site.url + path)
    return page


def test_the_loader_tag_fetches_the_banner_after_the_largest_paint_under_a_strict_csp(
    world: World,
) -> None:
    assert banner.loader_tag(world.avowal) == (
        f'<script data-avowal="{world.avowal}">{banner.LOADER_JS}</script>'
    )
    page = _loader_page(world, "/loader/", banner.LOADER_JS)
    page.locator(DIALOG).wait_for()
    timing = page.evaluate(
        """() => ({
          load: performance.getEntriesByType("navigation")[0].loadEventStart,
          banner: performance.getEntriesByType("resource")
            .filter(e => e.name.endsWith("/c.js")).map(e => e.startTime),
          lcp: window.__lcp,
          violations: window.__violations,
        })"""
    )
    assert timing["violations"] == []  # the hash in LOADER_CSP is the code's
    assert len(timing["banner"]) == 1  # fetched once
    assert timing["lcp"], "no largest-contentful-paint entry"
    assert timing["banner"][0] >= timing["load"]  # never while the page loads
    assert timing["banner"][0] >= timing["lcp"][-1]  # after the largest paint
    page.click(REJECT)
    value = _wait_cookie(page, "none")
    receipt = _recorded(world, value)[0]
    assert receipt["granted"] == [] and receipt["path"] == "/loader/"
    page.context.close()


def test_a_changed_loader_is_refused_by_the_csp_hash(world: World) -> None:
    page = _loader_page(world, "/loader-changed/", banner.LOADER_JS.replace("500", "501"))
    page.wait_for_function("window.__violations.length > 0")
    assert page.evaluate("window.__violations") == ["script-src-elem"]
    page.wait_for_timeout(1000)  # twice the loader's longest wait
    assert page.locator(DIALOG).count() == 0
    page.context.close()


def test_a_changed_declaration_asks_again(world: World) -> None:
    """Runs last here: the version it publishes stays in effect."""
    page = _open(world)
    page.click(ACCEPT)
    old = _wait_cookie(page, "analytics-advertising-performance")
    stale = _open(world)  # a page shown before the change
    before = banner_version(world.avowal)
    _publish(world, _another_cookie)
    after = banner_version(world.avowal)
    assert after != before
    stale.click(ACCEPT)  # refused as stale (409): the banner asks again
    stale.locator(DIALOG).wait_for()
    assert stale.evaluate("window.ran") == []
    stale.context.close()
    # The visitor comes back later (the browser's five-minute copy of /c.js has expired).
    ctx = world.browser.new_context()
    ctx.add_cookies(page.context.cookies())
    page.context.close()
    page = ctx.new_page()
    page.goto(world.site.page("/shop/", world.avowal))
    dialog = page.locator(DIALOG)
    dialog.wait_for()
    page.wait_for_timeout(200)
    assert page.evaluate("window.ran") == []  # the old consent does not cover the new cookie
    page.click(CUSTOMISE)
    assert page.get_by_role("switch", name="Analytics").is_checked()  # the old choice shown
    assert dialog.get_by_text("_ga_*").count() == 1
    page.click(ACCEPT)
    value = _wait_cookie(page, "analytics-advertising-performance", after)
    assert value.split(".")[1] == old.split(".")[1]  # the same consent id
    receipts = _recorded(world, value, 2)
    assert [r["banner_version"] for r in receipts] == [after, before]
    # Withdrawal deletes cookies matching the declared pattern.
    page.evaluate("document.cookie = '_ga_X1=1; path=/'; document.cookie = '_gaz=1; path=/'")
    page.evaluate("avowal.consent.open()")
    page.click(CUSTOMISE)
    page.get_by_role("switch", name="Analytics").uncheck()
    page.click(SAVE)
    _wait_cookie(page, "advertising-performance")
    names = {c["name"] for c in ctx.cookies()}
    assert "_ga_X1" not in names and "cm_usage" not in names
    assert "_gaz" in names
    ctx.close()
    # An announced change (two years ahead) is told in the banner, with its date and a link.
    _publish(world, _announced, "Card data is kept three years.")
    assert banner_version(world.avowal) == after  # what the banner shows has not changed
    page = _open(world)
    note = page.locator(DIALOG).get_by_text("Card data is kept three years.")
    effective = (dt.date.today() + dt.timedelta(days=730)).isoformat()
    assert effective in note.inner_text()
    link = note.get_by_role("link", name="See what changes")
    assert "/privacy/diff" in str(link.get_attribute("href"))
    page.context.close()

"""With cookies blocked in the browser, the site still works: the banner answers once and stays
closed, throws nothing, and the cookie-less analytics still count the visit."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import Settings
from tests import server
from tests.browser import consent_site
from tests.browser.test_banner import ACCEPT, DIALOG, NO_COOKIES
from tests.browser.test_tracker import (
    ARGS,
    CHROMIUM,
    VISITOR_UA,
    chromium_or_skip,
    wait_for_events,
)
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="{avowal}/c.js"></script>
<script defer data-domain="localhost" src="{avowal}/a.js"></script></head>
<body><main><h1>Shop</h1><a id="next" href="/shop/next/">Next page</a></main></body></html>"""


def test_with_cookies_blocked_the_site_works_and_analytics_count(tmp_path: Path) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    try:
        with consent_site.serving() as site:
            port = server.free_port()
            env = server.serve_env(tmp_path, database_url, POLICY)
            env["AVOWAL_PUBLIC_URL"] = f"http://127.0.0.1:{port}"
            env["AVOWAL_CONSENT_ORIGINS"] = json.dumps([site.url.replace("127.0.0.1", "localhost")])
            added = CliRunner().invoke(cli, ["analytics", "site", "add", "localhost"], env=env)
            assert added.exit_code == 0, added.output
            with (
                server.running(env, tmp_path / "serve.log", port) as avowal,
                sync_playwright() as p,
            ):
                for path in ("/shop/", "/shop/next/"):
                    site.pages[path] = PAGE.replace("{avowal}", avowal.url)
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
                try:
                    context = browser.new_context(user_agent=VISITOR_UA)
                    context.add_init_script(NO_COOKIES)
                    page = context.new_page()
                    errors: list[str] = []
                    page.on("pageerror", lambda e: errors.append(str(e)))
                    page.goto(f"http://localhost:{site.port}/shop/")
                    page.click(ACCEPT)
                    page.wait_for_timeout(300)
                    assert page.locator(DIALOG).is_hidden()  # answered, and no loop
                    page.click("#next")
                    page.wait_for_url("**/shop/next/")
                    rows = wait_for_events(engine, 2)
                    assert [r["path"] for r in rows] == ["/shop/", "/shop/next/"], avowal.output()
                    assert context.cookies() == [] and errors == []
                    context.close()
                finally:
                    browser.close()
    finally:
        engine.dispose()

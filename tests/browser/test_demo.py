"""The demo site in a real Chromium, as `make run` serves it: the banner's choice, a purchase
whose card is kept as its last four digits, a minor's sign-up waiting for a parent; no script
error and no Content-Security-Policy violation. It takes the README's screenshots
(``AVOWAL_UPDATE_SCREENSHOTS=1`` writes them to docs/images/)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import Settings
from tests import server
from tests.browser.test_tracker import ARGS, CHROMIUM, VISITOR_UA, chromium_or_skip
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

IMAGES = REPO_ROOT / "docs" / "images"
SHOTS = ("demo-home.png", "demo-purchase.png", "demo-received.png", "demo-minor.png")


def test_the_demo_site_in_a_browser(tmp_path: Path) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    try:
        migrate.upgrade(engine)
    finally:
        engine.dispose()
    policy = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
    port = server.free_port()
    env = server.serve_env(tmp_path, database_url, policy)
    env.update(AVOWAL_DEMO="true", AVOWAL_PUBLIC_URL=f"http://127.0.0.1:{port}")
    shots = tmp_path / "shots"
    shots.mkdir()
    problems: list[str] = []
    with server.running(env, tmp_path / "serve.log", port) as avowal:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                page = browser.new_context(
                    user_agent=VISITOR_UA, viewport={"width": 1000, "height": 900}
                ).new_page()
                page.on("pageerror", lambda exc: problems.append(f"error: {exc}"))
                page.on(
                    "console",
                    lambda m: problems.append(f"console: {m.text}") if m.type == "error" else None,
                )
                page.goto(f"{avowal.url}/demo/")
                page.get_by_role("button", name="Reject all").wait_for()
                page.screenshot(path=shots / "demo-home.png")
                page.get_by_role("button", name="Reject all").click()
                page.get_by_role("link", name="Purchase").click()
                page.fill("#avowal-purchase-name", "Ada Example")
                page.fill("#avowal-purchase-email", "ada@example.com")
                page.fill("#avowal-purchase-address", "1 Example Street")
                page.fill("#avowal-purchase-card", "4242 4242 4242 4242")
                assert page.get_by_text("Card payment processor").count() >= 1
                page.screenshot(path=shots / "demo-purchase.png", full_page=True)
                page.get_by_role("button", name="Send").click()
                page.get_by_role("heading", name="Thank you").wait_for()
                assert page.inner_text("#kept") == "address, card, email, name"
                page.screenshot(path=shots / "demo-received.png")
                page.goto(f"{avowal.url}/demo/forms/registration")
                page.fill("#avowal-registration-name", "Sam Example")
                page.fill("#avowal-registration-email", "sam@example.com")
                page.fill("#avowal-registration-birth_date", "2015-05-01")
                page.fill("#parent", "parent@example.com")
                page.get_by_role("button", name="Send").click()
                page.get_by_role("heading", name="Waiting for your parent").wait_for()
                page.screenshot(path=shots / "demo-minor.png")
            finally:
                browser.close()
        log = avowal.output()
    assert problems == [], (problems, log)
    assert "POST /v1/collect/{point} 201" in log  # through avowal's API, as a site's back end
    assert sorted(p.name for p in shots.iterdir()) == sorted(SHOTS)
    if os.environ.get("AVOWAL_UPDATE_SCREENSHOTS") == "1":
        IMAGES.mkdir(parents=True, exist_ok=True)
        for name in SHOTS:
            shutil.copyfile(shots / name, IMAGES / name)
    for name in SHOTS:  # the README shows them
        assert (IMAGES / name).is_file(), f"run with AVOWAL_UPDATE_SCREENSHOTS=1 to make {name}"

"""A real Chromium at phone width reads an announced change: the note on /privacy, then the diff
page it links to, with no sideways scrolling and no Content-Security-Policy violation."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pytest

from avowal.db import migrate
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.lifecycle import service as lifecycle
from avowal.policy.loader import parse_text
from avowal.settings import Settings
from tests import server
from tests.browser.test_docs import _requests_of
from tests.browser.test_tracker import ARGS, CHROMIUM, chromium_or_skip
from tests.conftest import REPO_ROOT
from tests.factories import policy_text

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
PHONE = {"width": 390, "height": 844}


def _announce(database_url: str, tmp_path: Path) -> None:
    """Publish a version two years ahead that keeps card data longer (a material change)."""

    def change(d: dict[str, object]) -> None:
        d["policy"]["effective"] = dt.date.today() + dt.timedelta(days=730)  # type: ignore[index]
        d["retention"][0]["days"] = 1095  # type: ignore[index]

    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    try:
        with make_sessionmaker(engine).begin() as session:
            lifecycle.publish(
                session,
                parse_text(policy_text(change)),
                by="officer@example.com",
                summary="Card data is kept three years.",
            )
    finally:
        engine.dispose()


def test_an_announced_change_reads_well_at_phone_width(tmp_path: Path) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    engine.dispose()
    env = server.serve_env(tmp_path, database_url, POLICY)
    env["AVOWAL_POLICY_REFRESH_SECONDS"] = "0"
    with server.running(env, tmp_path / "serve.log") as avowal, sync_playwright() as p:
        _announce(database_url, tmp_path)  # published while the server runs
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page(viewport=PHONE)
            _, outside, violations = _requests_of(page, avowal.url)
            page.goto(f"{avowal.url}/privacy")
            note = page.locator(".versions-note .upcoming")
            assert note.is_visible()
            assert "A new version takes effect on" in note.inner_text()
            assert "Card data is kept three years." in note.inner_text()
            width = "document.documentElement.scrollWidth <= window.innerWidth"
            assert page.evaluate(width), "the policy page scrolls sideways at 390 px"
            note.get_by_role("link", name="See what changes").click()
            page.wait_for_url("**/privacy/diff?**")
            body = page.inner_text("main")
            assert "1095" in body and "730" in body
            assert "material" in body.lower()
            assert page.evaluate(width), "the diff page scrolls sideways at 390 px"
            assert outside == [] and violations == []
        finally:
            browser.close()

"""A real Chromium opens /docs: the operations render from packaged assets only, with no
request outside the server's origin and no Content-Security-Policy violation."""

from __future__ import annotations

from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import Settings
from tests import server
from tests.browser.test_tracker import ARGS, CHROMIUM, chromium_or_skip
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
# Operations whose ids the page must show (Swagger UI displays them, see web/static/docs.js).
OPERATIONS = ("collect", "get_notice", "get_policy", "record_event", "site_summary")


def _requests_of(page: Any, origin: str) -> tuple[list[str], list[str], list[str]]:
    """Record the page's requests: all, those to another origin, and CSP violations."""
    seen: list[str] = []
    outside: list[str] = []
    violations: list[str] = []

    def on_request(request: Any) -> None:
        seen.append(request.url)
        parts = urlsplit(request.url)
        if parts.scheme in ("data", "blob"):
            return
        if f"{parts.scheme}://{parts.netloc}" != origin:
            outside.append(request.url)

    def on_console(message: Any) -> None:
        if "Content Security Policy" in message.text or "Refused to" in message.text:
            violations.append(message.text)

    page.on("request", on_request)
    page.on("console", on_console)
    page.add_init_script(
        "document.addEventListener('securitypolicyviolation', e => console.error("
        "'Refused to load (Content Security Policy): ' + e.violatedDirective + ' ' + e.blockedURI"
        "))"
    )
    return seen, outside, violations


def test_docs_render_every_operation_from_our_origin_only(tmp_path: Path) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    engine.dispose()
    env = server.serve_env(tmp_path, database_url, POLICY)
    with server.running(env, tmp_path / "serve.log") as avowal, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
        try:
            page = browser.new_page()
            seen, outside, violations = _requests_of(page, avowal.url)
            page.goto(f"{avowal.url}/docs")
            page.wait_for_selector(".opblock", timeout=20_000)
            text = page.inner_text("#swagger-ui")
            for operation in OPERATIONS:
                assert operation in text, operation
            assert page.locator(".opblock").count() >= 20
            # Open one operation: its 422 is a Problem (its example), not FastAPI's own shape.
            page.click("#operations-vault-collect .opblock-summary")
            page.wait_for_selector("#operations-vault-collect .responses-table")
            collect = page.inner_text("#operations-vault-collect")
            assert '"error": "purpose_not_granted"' in collect
            assert "ValidationError" not in collect

            page.wait_for_load_state("networkidle")
        finally:
            browser.close()
    assert any(url.endswith("/openapi.json") for url in seen), seen
    assert any("/docs/assets/swagger-ui-bundle.js" in url for url in seen), seen
    assert outside == [], outside
    assert violations == [], violations

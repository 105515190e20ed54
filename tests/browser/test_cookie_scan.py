"""`avowal cookies scan` in real Chromium against test pages served on 127.0.0.1: a clean site
passes; undeclared cookies and storage keys, cookies set before consent (HttpOnly ones too) and
cookies a bad banner sets on "Reject all" are found; an unreachable page is a usage error."""

from __future__ import annotations

import http.server
import json
import socket
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select
from typer.testing import CliRunner

from avowal.cli import app as cli
from avowal.consent.models import CookieScan
from avowal.consent.scan import FindingKind, Pass, Store, scan
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.policy.loader import load_file
from avowal.settings import Settings
from tests.browser.test_tracker import chromium_or_skip
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
WAIT_MS = 400
CONSENT = "cm_consent=v1.3f9c2b7a3f9c2b7a3f9c2b7a3f9c2b7a.a1b2c3d4e5f6.{granted}; path=/"


def banner(on_reject: str, on_accept: str) -> str:
    """A fake banner: two buttons whose clicks set what the scripts say (no /c.js)."""
    return f"""<div role="dialog" aria-label="Cookies">
<button data-avowal-consent="reject-all" onclick="{on_reject}">Reject all</button>
<button data-avowal-consent="accept-all" onclick="{on_accept}">Accept all</button>
</div>"""


def cookie(value: str) -> str:
    return f"document.cookie='{value}';"


GOOD_BANNER = banner(
    cookie(CONSENT.format(granted="none")),
    cookie(CONSENT.format(granted="analytics")) + cookie("cm_usage=1; path=/"),
)
# Rejecting still sets the advertising cookie; accepting leaves an undeclared session key.
BAD_BANNER = banner(
    cookie(CONSENT.format(granted="none")) + cookie("cm_perf=fast; path=/"),
    cookie(CONSENT.format(granted="analytics")) + "sessionStorage.setItem('ss_undeclared', '1');",
)
PAGES: dict[str, tuple[str, list[tuple[str, str]]]] = {
    "/clean": (f"<script>{cookie('cm_consent=pending; path=/')}</script>{GOOD_BANNER}", []),
    "/clean/about": ("<p>About us</p>", []),
    "/tracker": (
        f"<script>{cookie('tracker_x=abc; path=/')}"
        "localStorage.setItem('ls_undeclared', '1');</script>",
        [],
    ),
    "/usage": (f"<script>{cookie('cm_usage=1; path=/')}</script>{BAD_BANNER}", []),
    "/http-only": (
        "<p>Served with an HttpOnly cookie</p>",
        [("Set-Cookie", "cm_content=srv1; Path=/; HttpOnly; SameSite=Lax")],
    ),
}


class Handler(http.server.BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        page = PAGES.get(self.path)
        if page is None:
            self.send_error(404)
            return
        body, headers = page
        data = "<!doctype html><html><head><meta charset='utf-8'><title>Shop</title></head>"
        data += f"<body>{body}</body></html>"
        raw = data.encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(raw)))
        for name, value in headers:
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(raw)

    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def site() -> Iterator[str]:
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """Settings of the CLI: a data folder of the test's own, so nothing is recorded elsewhere."""
    return {
        "AVOWAL_ENV": "test",
        "AVOWAL_DATA_DIR": str(tmp_path),
        "AVOWAL_DATABASE_URL": f"sqlite:///{tmp_path / 'avowal.sqlite3'}",
        "AVOWAL_POLICY_FILE": str(POLICY),
    }


def scan_cli(env: dict[str, str], *args: str) -> Any:
    return CliRunner().invoke(cli, ["cookies", "scan", "--wait-ms", str(WAIT_MS), *args], env=env)


def test_a_clean_site_passes_and_the_scan_is_recorded(
    site: str, env: dict[str, str], tmp_path: Path
) -> None:
    chromium_or_skip()
    engine = make_engine(Settings(database_url=env["AVOWAL_DATABASE_URL"], data_dir=tmp_path))
    migrate.upgrade(engine)
    try:
        urls = [f"{site}/clean", f"{site}/clean/about"]
        result = scan_cli(env, *urls)
        assert result.exit_code == 0, result.output
        assert "clean: 2 pages scanned" in result.stdout
        with engine.connect() as conn:
            rows = list(conn.execute(select(CookieScan)).mappings())
    finally:
        engine.dispose()
    assert [(r["urls"], r["findings"], r["ok"]) for r in rows] == [(urls, [], True)]


def test_undeclared_cookies_and_storage_keys_fail_the_scan(site: str, env: dict[str, str]) -> None:
    chromium_or_skip()
    result = scan_cli(env, "--json", f"{site}/tracker")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert list(report) == ["ok", "urls", "banner", "findings"]
    assert report["ok"] is False and report["urls"] == [f"{site}/tracker"]
    # No banner appeared, and the example policy lets visitors refuse cookies.
    assert report["banner"] == {"rejected": False, "accepted": False}
    page = f"{site}/tracker"
    assert report["findings"] == [
        {
            "kind": "undeclared",
            "name": "tracker_x",
            "store": "cookie",
            "category": None,
            "pass": "before",
            "page": page,
        },
        {
            "kind": "undeclared",
            "name": "ls_undeclared",
            "store": "localStorage",
            "category": None,
            "pass": "before",
            "page": page,
        },
        {
            "kind": "no_banner",
            "name": '[data-avowal-consent="reject-all"]',
            "store": None,
            "category": None,
            "pass": "rejected",
            "page": page,
        },
        {
            "kind": "no_banner",
            "name": '[data-avowal-consent="accept-all"]',
            "store": None,
            "category": None,
            "pass": "accepted",
            "page": page,
        },
    ]
    assert "not recorded" in result.stderr  # no avowal database in this test's data folder


def test_before_consent_after_rejection_and_http_only_cookies_are_found(site: str) -> None:
    chromium_or_skip()
    usage, http_only = f"{site}/usage", f"{site}/http-only"
    report = scan(load_file(POLICY).policy, [usage, http_only], wait_ms=WAIT_MS)
    found = {(f.kind, f.name, f.store, f.pass_, f.page) for f in report.findings}
    assert found == {
        (FindingKind.before_consent, "cm_usage", Store.cookie, Pass.before, usage),
        # Set by the server with HttpOnly: invisible to the page's scripts, seen by the scanner.
        (FindingKind.before_consent, "cm_content", Store.cookie, Pass.before, http_only),
        # The bad banner's "Reject all" sets a performance cookie; the pages set the others.
        (FindingKind.after_rejection, "cm_usage", Store.cookie, Pass.rejected, usage),
        (FindingKind.after_rejection, "cm_perf", Store.cookie, Pass.rejected, usage),
        (FindingKind.after_rejection, "cm_content", Store.cookie, Pass.rejected, http_only),
        (FindingKind.undeclared, "ss_undeclared", Store.session_storage, Pass.accepted, usage),
    }
    assert report.banner == {Pass.rejected: True, Pass.accepted: True}
    assert not report.ok


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_an_unreachable_page_is_a_usage_error_naming_it(site: str, env: dict[str, str]) -> None:
    chromium_or_skip()
    closed = f"http://127.0.0.1:{free_port()}/shop"
    result = scan_cli(env, f"{site}/clean", closed)
    assert result.exit_code == 2, result.output
    assert f"cannot load {closed}: " in result.stderr
    missing = scan_cli(env, f"{site}/nowhere")
    assert missing.exit_code == 2, missing.output
    assert f"cannot load {site}/nowhere: it answered HTTP 404" in missing.stderr
    assert scan_cli(env, "ftp://shop.example.com/").exit_code == 2
    no_browser = scan_cli(env, "--chromium", "/nonexistent/chromium", f"{site}/clean")
    assert no_browser.exit_code == 2
    assert "Chromium not found at /nonexistent/chromium" in no_browser.stderr

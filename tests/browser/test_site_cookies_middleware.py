"""The site's own server drops Set-Cookie headers the visitor did not consent to: a WSGI app and
an ASGI app, each wrapped in avowal's middleware, seen from a real Chromium through the banner."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, make_server

import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse
from starlette.routing import Route

from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.integrations import ConsentCookiesASGI, ConsentCookiesWSGI
from avowal.settings import Settings
from tests import server
from tests.browser.test_tracker import ARGS, CHROMIUM, chromium_or_skip
from tests.conftest import REPO_ROOT

pytestmark = pytest.mark.browser

POLICY = REPO_ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"
PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8"><title>Shop</title>
<script src="{avowal}/c.js"></script></head>
<body><main><h1>Shop</h1><p>Fictional goods for fictional people.</p></main></body></html>"""
# What the site's own server sets on every page: analytics, and advertising that scripts
# cannot even see (HttpOnly), the kind no banner in the page can block.
SET_COOKIES = [
    ("Set-Cookie", "cm_usage=from-server; Path=/; Max-Age=3600"),
    ("Set-Cookie", "cm_content=from-server; Path=/; Max-Age=3600; HttpOnly"),
]


def _wsgi_site(avowal: str) -> Callable[..., Any]:
    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        body = PAGE.replace("{avowal}", avowal).encode()
        start_response("200 OK", [("Content-Type", "text/html; charset=utf-8"), *SET_COOKIES])
        return [body]

    return ConsentCookiesWSGI(app, policy=POLICY)


def _asgi_site(avowal: str) -> Any:
    async def page(_: Request) -> HTMLResponse:
        answer = HTMLResponse(PAGE.replace("{avowal}", avowal))
        for _, value in SET_COOKIES:
            answer.headers.append("set-cookie", value)
        return answer

    return ConsentCookiesASGI(Starlette(routes=[Route("/", page)]), policy=POLICY)


class _Quiet(WSGIRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@contextmanager
def _serve_wsgi(app: Any, port: int) -> Iterator[str]:
    httpd = make_server("127.0.0.1", port, app, handler_class=_Quiet)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        httpd.shutdown()
        httpd.server_close()


@contextmanager
def _serve_asgi(app: Any, port: int) -> Iterator[str]:
    runner = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=runner.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not runner.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        runner.should_exit = True
        thread.join(timeout=10)


def _server_cookies(context: Any) -> set[str]:
    return {c["name"] for c in context.cookies() if c["value"] == "from-server"}


def _choose(browser: Any, site: str, button: str) -> set[str]:
    """Visit, choose in the banner, visit again; return the server's cookies at each step."""
    context = browser.new_context()
    try:
        page = context.new_page()
        page.goto(site + "/")
        assert _server_cookies(context) == set(), "set before any choice"
        page.click(f'[data-avowal-consent="{button}"]')
        page.wait_for_function("document.cookie.includes('cm_consent=v1.')")
        page.reload()
        return _server_cookies(context)
    finally:
        context.close()


@pytest.mark.parametrize("kind", ["wsgi", "asgi"])
def test_the_site_server_sets_only_consented_cookies(tmp_path: Path, kind: str) -> None:
    chromium_or_skip()
    from playwright.sync_api import sync_playwright

    database_url = f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
    engine = make_engine(Settings(database_url=database_url, data_dir=tmp_path))
    migrate.upgrade(engine)
    engine.dispose()
    avowal_port, site_port = server.free_port(), server.free_port()
    env = server.serve_env(tmp_path, database_url, POLICY)
    env["AVOWAL_PUBLIC_URL"] = f"http://127.0.0.1:{avowal_port}"
    env["AVOWAL_CONSENT_ORIGINS"] = json.dumps([f"http://127.0.0.1:{site_port}"])
    with server.running(env, tmp_path / "serve.log", avowal_port) as avowal:
        serve, site_app = (
            (_serve_wsgi, _wsgi_site(avowal.url))
            if kind == "wsgi"
            else (_serve_asgi, _asgi_site(avowal.url))
        )
        with serve(site_app, site_port) as site, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=ARGS)
            try:
                assert _choose(browser, site, "reject-all") == set()
                assert _choose(browser, site, "accept-all") == {"cm_usage", "cm_content"}
            finally:
                browser.close()

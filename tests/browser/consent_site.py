"""A test site for the consent banner: pages served from another port that load avowal's /c.js.

Cookies are not port-specific, so the site's pages and avowal (both on 127.0.0.1) share them.
"""

from __future__ import annotations

import http.server
import re
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx

# Blocked elements of three categories; each script records that it ran and sets its cookie.
PAGE = """<!doctype html>
<html lang="{lang}"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Shop</title>
<script>window.ran = [];</script>
<script src="{avowal}/c.js"></script>
<script type="text/plain" data-category="analytics">
ran.push("analytics"); document.cookie = "cm_usage=1; path=/; max-age=3600";
</script>
<script type="text/plain" data-category="advertising">
ran.push("advertising"); document.cookie = "cm_content=1; path=/; max-age=3600";
</script>
<script type="text/plain" data-category="performance">
ran.push("performance"); document.cookie = "cm_perf=1; path=/";
</script>
</head><body>
<main>
<h1>Shop</h1>
<p>Fictional goods for fictional people.</p>
<button id="start" type="button">Start</button>
<a href="#" id="settings" data-avowal-consent-open>Cookie settings</a>
<iframe id="ad" title="Advertisement" data-category="advertising" data-src="/frame.html"></iframe>
</main>
</body></html>
"""
FRAME = "<!doctype html><title>Ad</title><p>An advertisement.</p>"


@dataclass
class Site:
    """The test site: its port and the pages it serves by path."""

    port: int
    pages: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def page(self, path: str, avowal: str, lang: str = "en") -> str:
        """Serve the standard shop page at ``path`` and return its address."""
        self.pages[path] = PAGE.replace("{avowal}", avowal).replace("{lang}", lang)
        return self.url + path


@contextmanager
def serving() -> Iterator[Site]:
    """Run the site on a free port of 127.0.0.1 (threaded: the page and its frame at once)."""
    site = Site(0, {"/frame.html": FRAME})

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            body = site.pages.get(self.path.split("?")[0])
            self.send_response(200 if body is not None else 404)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write((body or "not found").encode())

        def log_message(self, format: str, *args: Any) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    site.port = httpd.server_address[1]
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield site
    finally:
        httpd.shutdown()
        httpd.server_close()


def banner_version(avowal: str) -> str:
    """Return the banner version /c.js serves now."""
    found = re.search(r'"version":"([0-9a-f]{12})"', httpx.get(f"{avowal}/c.js").text)
    assert found is not None
    return found.group(1)


def consent_cookie(context: Any) -> str | None:
    """Return the consent cookie's value in a browser context, if set."""
    return next((c["value"] for c in context.cookies() if c["name"] == "cm_consent"), None)


def history(avowal: str, consent_id: str) -> list[dict[str, Any]]:
    """Return the receipts recorded on the server under a consent id, newest first."""
    answer = httpx.get(f"{avowal}/v1/consents/cookies/{consent_id}")
    assert answer.status_code == 200, answer.text
    return [c["receipt"] for c in answer.json()["choices"]]

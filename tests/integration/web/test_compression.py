"""Gzip: pages, stylesheets and JSON are compressed for clients that accept it; the analytics
event answer, small answers and already-compressed scripts are left as they are."""

from __future__ import annotations

import gzip
import json

import pytest
from fastapi.testclient import TestClient

from avowal.analytics import tracker
from avowal.app import GZIP_MINIMUM_BYTES
from avowal.policy import render

GZIP = {"Accept-Encoding": "gzip"}
IDENTITY = {"Accept-Encoding": "identity"}


def raw(
    client: TestClient, method: str, url: str, status: int = 200, **kwargs: object
) -> tuple[dict[str, str], bytes]:
    """Return the headers and the body bytes as sent, before the client decodes them."""
    with client.stream(method, url, **kwargs) as response:  # type: ignore[arg-type]
        assert response.status_code == status
        return dict(response.headers), b"".join(response.iter_raw())


@pytest.mark.parametrize("path", ["/privacy", render.STYLESHEET.href, "/v1/policy", "/privacy.md"])
def test_pages_assets_and_json_are_gzipped_when_accepted(client: TestClient, path: str) -> None:
    plain_headers, plain = raw(client, "GET", path, headers=IDENTITY)
    assert "content-encoding" not in plain_headers
    assert len(plain) > GZIP_MINIMUM_BYTES
    headers, body = raw(client, "GET", path, headers=GZIP)
    assert headers["content-encoding"] == "gzip"
    assert "accept-encoding" in headers["vary"].lower()
    assert int(headers["content-length"]) == len(body) < len(plain)
    assert gzip.decompress(body) == plain
    assert headers["content-type"] == plain_headers["content-type"]


def test_small_answers_are_not_compressed(client: TestClient) -> None:
    headers, body = raw(client, "GET", "/healthz", headers=GZIP)
    assert "content-encoding" not in headers
    assert json.loads(body)["status"] == "ok"


def test_event_endpoint_answers_its_202_uncompressed(client: TestClient) -> None:
    origin = "https://www.contactmonkey.com"
    event = {"n": "pageview", "u": f"{origin}/pricing", "d": "contactmonkey.com"}
    headers, body = raw(
        client,
        "POST",
        "/api/event",
        202,
        content=json.dumps(event).encode(),
        headers={
            **GZIP,
            "Content-Type": "text/plain",
            "Origin": origin,
            "User-Agent": "Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0",
        },
    )
    assert "content-encoding" not in headers
    assert "vary" not in headers or "accept-encoding" not in headers["vary"].lower()
    assert len(body) < GZIP_MINIMUM_BYTES


def test_precompressed_tracker_is_not_compressed_twice(client: TestClient) -> None:
    headers, body = raw(client, "GET", "/a.js", headers=GZIP)
    assert headers["content-encoding"] == "gzip"
    assert body == tracker.SCRIPT.gzipped
    assert gzip.decompress(body) == tracker.SCRIPT.body
    # HEAD sets its own Content-Length, that of the body a GET would send.
    head_headers, head_body = raw(client, "HEAD", "/a.js", headers=GZIP)
    assert head_body == b""
    assert head_headers["content-length"] == str(len(tracker.SCRIPT.gzipped))
    assert head_headers["content-encoding"] == "gzip"

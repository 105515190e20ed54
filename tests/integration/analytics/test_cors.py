"""CORS of `/api/event` like Plausible's documented set-up: pages on any subdomain of a counted
site may report to it; other origins get a plain 403 without Access-Control-Allow-Origin. And
the tracker under Plausible's script names, each a build of the same source."""

from __future__ import annotations

import json
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select

from avowal.analytics import tracker
from avowal.analytics.models import Event

SITE = "www.contactmonkey.com"  # the example policy's counted site
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"


def preflight(client: TestClient, origin: str) -> Any:
    return client.options(
        "/api/event",
        headers={
            "Origin": origin,
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "content-type",
        },
    )


def post(client: TestClient, origin: str, domain: str = "contactmonkey.com") -> Any:
    page = f"{origin}/pricing"
    body = json.dumps({"n": "pageview", "u": page, "d": domain}).encode()
    return client.post(
        "/api/event",
        content=body,
        headers={"Content-Type": "text/plain", "User-Agent": FIREFOX, "Origin": origin},
    )


def stored_paths(engine: Engine) -> list[str]:
    with engine.connect() as conn:
        return [str(p) for p in conn.scalars(select(Event.path).order_by(Event.id))]


@pytest.mark.parametrize(
    "origin",
    [
        "https://blog.contactmonkey.com",
        "https://shop.www.contactmonkey.com",
        "https://a.b.contactmonkey.com:8443",
        "http://contactmonkey.com",
        "https://WWW.ContactMonkey.com",
    ],
)
def test_subdomains_of_a_counted_site_may_report_to_it(
    client: TestClient, engine: Engine, origin: str
) -> None:
    allowed = preflight(client, origin)
    assert allowed.status_code == 204, allowed.text
    assert allowed.headers["access-control-allow-origin"] == origin
    assert allowed.headers["access-control-allow-methods"] == "POST"
    assert allowed.headers["access-control-allow-headers"] == "Content-Type"
    assert allowed.headers["vary"] == "Origin"
    sent = post(client, origin)
    assert sent.status_code == 202, sent.text
    assert sent.headers["access-control-allow-origin"] == origin
    assert stored_paths(engine) == ["/pricing"]


@pytest.mark.parametrize(
    "origin",
    [
        "https://evil.example.com",
        "https://contactmonkey.com.evil.example",
        "https://www.contactmonkey.com.evil.example",
        "https://notcontactmonkey.com",
        "https://contactmonkey.co",
        "null",
        "file://",
        "https://blog.contactmonkey.com/path",
    ],
)
def test_other_origins_are_refused_without_cors_headers(client: TestClient, origin: str) -> None:
    refused = preflight(client, origin)
    assert refused.status_code == 403
    assert refused.json()["error"] == "origin_not_allowed"
    assert "access-control-allow-origin" not in refused.headers
    assert "access-control-allow-methods" not in refused.headers
    sent = post(client, origin)
    assert "access-control-allow-origin" not in sent.headers


def test_a_subdomain_reporting_an_unknown_site_is_not_stored(
    client: TestClient, engine: Engine
) -> None:
    origin = "https://blog.contactmonkey.com"
    sent = post(client, origin, domain="other.example.com")
    assert sent.status_code == 404
    assert sent.json()["error"] == "unknown_site"
    # The page may read why, since its origin belongs to a counted site.
    assert sent.headers["access-control-allow-origin"] == origin
    assert stored_paths(engine) == []


# --- the tracker under Plausible's names ----------------------------------------------------


@pytest.mark.parametrize(
    ("name", "features"),
    [
        ("script.js", set()),
        ("plausible.js", set()),
        ("script.hash.js", {"hash"}),
        ("script.outbound-links.js", {"outbound-links"}),
        ("script.file-downloads.js", {"file-downloads"}),
        ("script.tagged-events.js", {"tagged-events"}),
        ("script.manual.js", {"manual"}),
        ("script.pageview-props.js", {"pageview-props"}),
        ("script.hash.outbound-links.js", {"hash", "outbound-links"}),
        ("script.outbound-links.hash.js", {"hash", "outbound-links"}),
        ("plausible.outbound-links.hash.js", {"hash", "outbound-links"}),
        # Extensions every build already has change nothing.
        ("script.revenue.js", set()),
        ("script.exclusions.local.js", set()),
        ("script.compat.hash.revenue.js", {"hash"}),
        (
            "script.file-downloads.hash.manual.outbound-links.pageview-props.tagged-events.js",
            {
                "file-downloads",
                "hash",
                "manual",
                "outbound-links",
                "pageview-props",
                "tagged-events",
            },
        ),
    ],
)
def test_plausible_script_names_serve_their_build(
    client: TestClient, name: str, features: set[str]
) -> None:
    response = client.get(f"/js/{name}", headers={"Accept-Encoding": "identity"})
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/javascript")
    assert response.headers["cache-control"] == tracker.STABLE_CACHE
    assert response.headers["cross-origin-resource-policy"] == "cross-origin"
    assert "set-cookie" not in response.headers
    script = tracker.build(frozenset(features))
    assert response.content == script.body
    assert response.headers["etag"] == script.etag
    assert client.get(f"/js/{name}", headers={"If-None-Match": script.etag}).status_code == 304
    body = script.body
    assert b"localStorage" not in body and b"sessionStorage" not in body
    assert b"indexedDB" not in body and b"document.cookie" not in body
    assert (b"Outbound Link: Click" in body) == ("outbound-links" in features)
    assert (b"File Download" in body) == ("file-downloads" in features)
    assert (b"plausible-event-" in body) == ("tagged-events" in features)
    assert (b'"pushState"' in body) == ("manual" not in features)
    assert b"//+" not in body and b"//-" not in body


def test_the_default_names_are_the_same_bytes_as_a_js(client: TestClient) -> None:
    a = client.get("/a.js", headers={"Accept-Encoding": "identity"})
    for name in ("script.js", "plausible.js", "script.revenue.local.js"):
        same = client.get(f"/js/{name}", headers={"Accept-Encoding": "identity"})
        assert same.content == a.content
        assert same.headers["etag"] == a.headers["etag"]
    zipped = client.get("/js/script.hash.js", headers={"Accept-Encoding": "gzip"})
    assert zipped.headers["content-encoding"] == "gzip"
    assert zipped.content == tracker.build(frozenset({"hash"})).body


@pytest.mark.parametrize(
    "name",
    ["script.404.js", "script.nosuch.js", "other.js", "script.js.map", "script..js", "SCRIPT.js"],
)
def test_unknown_script_names_are_a_404_naming_the_extensions(
    client: TestClient, name: str
) -> None:
    response = client.get(f"/js/{name}")
    assert response.status_code == 404
    body = response.json()
    assert body["error"] == "unknown_script"
    assert body["name"] == name
    assert "outbound-links" in body["message"] and "tagged-events" in body["message"]


def test_every_build_is_within_its_budget() -> None:
    default = tracker.gzipped_size(tracker.SCRIPT.body)
    assert default <= tracker.SIZE_BUDGET
    for feature in tracker.BUILT:
        extra = tracker.gzipped_size(tracker.build(frozenset({feature})).body) - default
        assert extra <= tracker.EXTENSION_BUDGET, (feature, extra)

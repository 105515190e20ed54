"""Deeply nested JSON gets a clear 400 on every route that takes a JSON body (issue 8, hole 1).

Python's JSON parser recurses once per level; without a guard, deep input makes it raise
``RecursionError``. Every route with a JSON body is found from the application itself, so a new
route is covered without touching this test.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.analytics.routes import EVENT_PATH, MAX_EVENT_BYTES
from avowal.lib import text
from avowal.settings import Settings

DEPTHS = [text.MAX_DEPTH + 1, 900, 30_000]


def json_routes(app: FastAPI) -> list[tuple[str, str]]:
    """Return (method, path) of every operation the API documents with a JSON body."""
    found = []
    for path, operations in app.openapi()["paths"].items():
        for method, operation in operations.items():
            content = operation.get("requestBody", {}).get("content", {})
            if any(m == "application/json" or m.endswith("+json") for m in content):
                found.append((method.upper(), re.sub(r"\{[^}]+\}", "x", path)))
    return found


def nested(depth: int, *, wrapped: bool) -> bytes:
    inner = b"[" * depth + b"]" * depth
    return b'{"values": {"email": %s}}' % inner if wrapped else inner


@pytest.fixture
def routes(app: FastAPI) -> Iterator[list[tuple[str, str]]]:
    found = json_routes(app)
    # The vault's collection and disclosure and the analytics event endpoint, at least.
    assert {("POST", "/v1/collect/x"), ("POST", "/v1/disclosures"), ("POST", "/api/event")} <= set(
        found
    )
    yield found


@pytest.mark.parametrize("depth", DEPTHS)
@pytest.mark.parametrize("wrapped", [False, True], ids=["bare", "in-a-field"])
def test_every_json_route_refuses_deep_nesting_with_a_400(
    client: TestClient,
    settings: Settings,
    routes: list[tuple[str, str]],
    depth: int,
    wrapped: bool,
) -> None:
    body = nested(depth, wrapped=wrapped)
    for method, path in routes:
        response = client.request(
            method, path, content=body, headers={"Content-Type": "application/json"}
        )
        problem = response.json()
        # A body over the route's own size limit is refused for that first.
        limit = MAX_EVENT_BYTES if path == EVENT_PATH else settings.max_body_bytes
        if len(body) > limit:
            assert (response.status_code, problem["limit"]) == (413, limit), (method, path)
            continue
        assert response.status_code == 400, (method, path, response.text)
        assert problem["error"] == "too_deeply_nested", (method, path, problem)
        assert problem["limit"] == text.MAX_DEPTH


def test_a_chunked_deep_body_is_refused_too(client: TestClient) -> None:
    def chunks() -> Iterator[bytes]:
        for _ in range(100):
            yield b"[" * 100
        for _ in range(100):
            yield b"]" * 100

    response = client.post(
        "/v1/collect/x", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    assert response.json()["error"] == "too_deeply_nested"


def test_nesting_within_the_limit_reaches_the_route(client: TestClient) -> None:
    inner = b"[" * (text.MAX_DEPTH - 2) + b"]" * (text.MAX_DEPTH - 2)
    response = client.post(
        "/v1/collect/x",
        content=b'{"values": {"email": %s}}' % inner,
        headers={"Content-Type": "application/json"},
    )
    # Past the guard: the route's own rules answer (no token here).
    assert response.status_code != 400 or response.json()["error"] != "too_deeply_nested"
    assert response.status_code < 500

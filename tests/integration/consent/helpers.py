"""Read the configuration out of /c.js, and send choices as the banner does."""

from __future__ import annotations

import json
from typing import Any

import httpx
from fastapi.testclient import TestClient

SITE = "https://www.contactmonkey.com"


def config_of(body: str) -> dict[str, Any]:
    """Return the object C the banner script is called with."""
    assert body.startswith("(function(C){")
    start = body.rindex("})(") + 3
    assert body.endswith(");\n")
    conf: dict[str, Any] = json.loads(body[start:-3])
    return conf


def banner_config(client: TestClient) -> dict[str, Any]:
    """Fetch /c.js and return its configuration."""
    answer = client.get("/c.js")
    assert answer.status_code == 200, answer.text
    return config_of(answer.text)


def choose(
    client: TestClient,
    granted: list[str],
    *,
    version: str | None = None,
    headers: dict[str, str] | None = None,
    **fields: Any,
) -> httpx.Response:
    """Send a choice from a page of the example's site, on the current banner by default."""
    body = {
        "version": version or banner_config(client)["version"],
        "granted": granted,
        **fields,
    }
    return client.post(
        "/v1/consents/cookies", json=body, headers={"Origin": SITE, **(headers or {})}
    )

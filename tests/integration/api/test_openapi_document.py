"""The OpenAPI document tells the truth: one Problem shape, readable ids, typed answers."""

from __future__ import annotations

import re
from typing import Any

from fastapi.testclient import TestClient

PROBLEM = {"$ref": "#/components/schemas/Problem"}
# Plausible's Stats API answers refusals in Plausible's own shape ({"error": ...}), so that
# Plausible's clients read them: the one documented exception to the Problem shape.
STATS_ERROR = {"$ref": "#/components/schemas/StatsError"}
STATS_PATHS = ("/api/v1/stats/", "/api/v2/")  # avowal.analytics.stats_api.OWN_ERROR_PATHS


def operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def test_every_error_is_a_documented_problem(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert "HTTPValidationError" not in schemas
    assert "ValidationError" not in schemas
    assert set(schemas["Problem"]["required"]) == {"error", "message"}
    assert schemas["Problem"]["additionalProperties"] is True
    for method, path, operation in operations(document):
        for status, answer in operation["responses"].items():
            if status[0] in "45":
                shape = STATS_ERROR if path.startswith(STATS_PATHS) else PROBLEM
                assert answer["content"] == {"application/json": {"schema": shape}}, (
                    method,
                    path,
                    status,
                )
    assert set(schemas["StatsError"]["required"]) == {"error"}
    # The 422 the document promises is the one the server sends.
    answer = client.get("/v1/notices/Not-A-Point")
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert answer.json()["problems"][0]["location"] == "path.point"


def test_operation_ids_are_readable_and_unique(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    ids = [operation["operationId"] for _, _, operation in operations(document)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z][a-z_]*[a-z]", i) for i in ids), ids
    assert {
        "collect",
        "get_notice",
        "read_subject_data",
        "erase_subject",
        "get_policy",
        "record_event",
        "site_summary",
    } <= set(ids)


def test_every_json_answer_is_typed(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for method, path, operation in operations(document):
        success = [s for s in operation["responses"] if s.startswith("2")]
        assert len(success) == 1, (method, path)
        content = operation["responses"][success[0]]["content"]
        if "application/json" in content:
            assert content["application/json"]["schema"], (method, path)


def test_the_event_body_is_documented(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    body = document["paths"]["/api/event"]["post"]["requestBody"]["content"]
    event = body["application/json"]["schema"]
    assert {"name", "n", "url", "u", "domain", "d", "props", "p"} <= set(event["properties"])
    assert "text/plain" in body


def test_docs_are_served_from_our_own_origin(client: TestClient) -> None:
    page = client.get("/docs")
    assert page.status_code == 200
    assert "cdn." not in page.text
    assert "<script>" not in page.text  # no inline script
    scripts = re.findall(r'src="([^"]+)"', page.text)
    assert scripts and all(s.startswith("/docs/assets/") for s in scripts)
    for src in scripts:
        asset = client.get(src)
        assert asset.status_code == 200
        assert asset.headers["content-type"].startswith("text/javascript")
    assert client.get("/docs/assets/no-such.js").status_code == 404
    assert client.get("/redoc").status_code == 404

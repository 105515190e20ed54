"""The published policy as JSON, health and the API description, on both databases."""

from __future__ import annotations

from fastapi.testclient import TestClient

from avowal.policy.loader import load_file
from tests.factories import EXAMPLE_POLICY


def test_policy_json_carries_its_content_hash_as_version(client: TestClient) -> None:
    r = client.get("/v1/policy")
    assert r.status_code == 200
    body = r.json()
    expected = load_file(EXAMPLE_POLICY)
    assert body["version_id"] == expected.version_id
    assert r.headers["etag"] == f'"{expected.version_id}"'
    assert body["policy"]["commitments"]["never_sold"] is True
    assert body["policy"]["organisation"]["privacy_contact"] == "support@contactmonkey.com"


def test_health_names_the_enforced_policy_version(client: TestClient) -> None:
    body = client.get("/healthz").json()
    assert body["status"] == "ok"
    assert body["policy_version"] == client.get("/v1/policy").json()["version_id"]


def test_openapi_describes_every_route(client: TestClient) -> None:
    paths = client.get("/openapi.json").json()["paths"]
    for path in (
        "/privacy",
        "/v1/policy",
        "/healthz",
        "/v1/notices/{point}",
        "/v1/collect/{point}",
        "/v1/subjects/{subject_id}/data",
        "/v1/disclosures",
        "/v1/receipts/{receipt_id}",
        "/v1/receipts/key",
        "/v1/subjects/lookup",
    ):
        assert path in paths, path
    collect = paths["/v1/collect/{point}"]["post"]
    assert collect["summary"] and collect.get("description")


def test_unknown_route_is_a_json_404(client: TestClient) -> None:
    r = client.get("/v1/nothing-here")
    assert r.status_code == 404
    assert r.json()["error"] == "not_found"

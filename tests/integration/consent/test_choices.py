"""Choices recorded with signed receipts: versions, categories, GPC, history, CORS, no identity."""

from __future__ import annotations

import json
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.consent.cookie import parse_value
from avowal.consent.models import CookieConsent
from avowal.crypto import signing
from avowal.policy.loader import parse_text
from tests.factories import policy_text
from tests.integration.consent.helpers import SITE, banner_config, choose
from tests.serving import enforce

FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
VISITOR_IP = "203.0.113.7"


def _rows(app: FastAPI) -> list[CookieConsent]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(CookieConsent)))


def test_a_choice_is_recorded_with_a_verifiable_receipt(app: FastAPI, client: TestClient) -> None:
    version = banner_config(client)["version"]
    answer = choose(
        client,
        ["analytics"],
        language="fr",
        path="/pricing/ada@example.com?plan=pro#top",
        headers={"User-Agent": FIREFOX, "X-Forwarded-For": VISITOR_IP},
    )
    assert answer.status_code == 201, answer.text
    assert answer.headers["access-control-allow-origin"] == SITE
    got = answer.json()
    consent_id = got["consent_id"]
    assert len(consent_id) == 32 and int(consent_id, 16) >= 0
    assert got["max_age"] == 365 * 86400
    receipt = got["receipt"]
    assert receipt["consent_id"] == consent_id
    assert receipt["banner_version"] == version
    assert receipt["granted"] == ["analytics"]
    assert receipt["refused"] == ["advertising", "performance"]
    assert receipt["method"] == "banner" and receipt["gpc"] is False
    assert receipt["language"] == "fr"
    assert receipt["path"] == "/pricing/:email"
    value = parse_value(got["value"])
    assert value is not None and value.consent_id == consent_id and value.version == version
    assert {c.value for c in value.granted} == {"analytics"}
    key = client.get("/v1/receipts/key").json()
    assert key["key_id"] == receipt["key_id"]
    public = signing.load_public_pem(key["public_key_pem"])
    assert signing.verify(public, receipt, got["signature"])
    assert not signing.verify(public, {**receipt, "granted": []}, got["signature"])
    # Nothing that identifies the visitor is stored.
    (row,) = _rows(app)
    stored = json.dumps(
        [row.consent_id, row.granted, row.refused, row.method, row.path, row.receipt]
    )
    for personal in (VISITOR_IP, "Firefox", "ada@example.com", "plan=pro", "testclient"):
        assert personal not in stored
    assert row.receipt == receipt and row.signature == got["signature"]


def test_a_second_choice_keeps_the_id_and_the_history_is_newest_first(
    client: TestClient,
) -> None:
    first = choose(client, ["analytics", "advertising", "performance"]).json()
    cid = first["consent_id"]
    second = choose(client, [], consent_id=cid, method="settings").json()
    assert second["consent_id"] == cid
    assert second["value"].endswith(".none")
    history = client.get(f"/v1/consents/cookies/{cid}")
    assert history.status_code == 200
    choices = history.json()["choices"]
    assert [c["receipt"]["method"] for c in choices] == ["settings", "banner"]
    assert choices[0]["receipt"]["refused"] == ["analytics", "advertising", "performance"]
    assert choices[1]["signature"] == first["signature"]
    unknown = client.get(f"/v1/consents/cookies/{'0' * 32}")
    assert unknown.status_code == 404
    assert unknown.json()["error"] == "unknown_consent_id"


def test_a_stale_banner_version_is_refused_and_nothing_is_stored(
    app: FastAPI, client: TestClient
) -> None:
    old = banner_config(client)["version"]

    def longer(data: dict[str, Any]) -> None:
        data["cookies"][2]["lifetime"] = "60 days"

    enforce(app, parse_text(policy_text(longer)))
    answer = choose(client, ["analytics"], version=old)
    assert answer.status_code == 409
    body = answer.json()
    assert body["error"] == "banner_version_stale"
    assert body["current"] == banner_config(client)["version"] != old
    # The banner reads the refusal from the site's page.
    assert answer.headers["access-control-allow-origin"] == SITE
    assert _rows(app) == []


def test_categories_the_banner_does_not_offer_are_refused(app: FastAPI, client: TestClient) -> None:
    for granted, named in (
        (["analytics", "strictly_necessary"], ["strictly_necessary"]),
        (["tracking", "functional"], ["functional", "tracking"]),
    ):
        answer = choose(client, granted)
        assert answer.status_code == 422
        body = answer.json()
        assert body["error"] == "categories_not_choosable"
        assert body["categories"] == named
        assert body["offered"] == ["analytics", "advertising", "performance"]
    assert _rows(app) == []


def test_gpc_turns_advertising_off_and_is_recorded(client: TestClient) -> None:
    everything = ["analytics", "advertising", "performance"]
    answer = choose(client, everything, headers={"Sec-GPC": "1"}).json()
    assert answer["receipt"]["granted"] == ["analytics", "performance"]
    assert answer["receipt"]["refused"] == ["advertising"]
    assert answer["receipt"]["gpc"] is True
    assert answer["receipt"]["method"] == "banner"
    value = parse_value(answer["value"])
    assert value is not None and "advertising" not in value.granted


def test_a_choice_made_for_gpc_never_turns_an_earlier_refusal_back_on(
    client: TestClient,
) -> None:
    refused = choose(client, ["performance"]).json()
    cid = refused["consent_id"]
    made = choose(client, ["analytics", "performance"], consent_id=cid, method="gpc").json()
    assert made["receipt"]["method"] == "gpc" and made["receipt"]["gpc"] is True
    assert made["receipt"]["granted"] == ["performance"]
    assert made["receipt"]["refused"] == ["analytics", "advertising"]


def test_cors_preflight_allows_the_sites_served_only(client: TestClient, app: FastAPI) -> None:
    asked = {
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "content-type",
    }
    for origin in (SITE, "http://127.0.0.1:8000"):
        ok = client.options("/v1/consents/cookies", headers={"Origin": origin, **asked})
        assert ok.status_code == 204
        assert ok.headers["access-control-allow-origin"] == origin
        assert ok.headers["access-control-allow-methods"] == "POST"
        assert "content-type" in ok.headers["access-control-allow-headers"].lower()
    evil = "https://evil.example.com"
    refused = client.options("/v1/consents/cookies", headers={"Origin": evil, **asked})
    assert refused.status_code == 403
    assert "access-control-allow-origin" not in refused.headers
    assert refused.json()["error"] == "origin_not_allowed"
    posted = client.post(
        "/v1/consents/cookies",
        json={"version": banner_config(client)["version"], "granted": []},
        headers={"Origin": evil},
    )
    assert posted.status_code == 403
    assert _rows(app) == []
    # A back end (no Origin) may record a choice too.
    no_origin = client.post(
        "/v1/consents/cookies", json={"version": banner_config(client)["version"], "granted": []}
    )
    assert no_origin.status_code == 201


def test_consent_origins_setting_adds_origins(app: FastAPI, client: TestClient) -> None:
    other = "https://shop.example.com"
    app.state.settings = app.state.settings.model_copy(update={"consent_origins": [other]})
    ok = client.options(
        "/v1/consents/cookies",
        headers={"Origin": other, "Access-Control-Request-Method": "POST"},
    )
    assert ok.status_code == 204
    assert ok.headers["access-control-allow-origin"] == other

"""/c.js: the banner script with its configuration from the policy in effect, and gpc.json."""

from __future__ import annotations

import datetime as dt
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.consent import banner
from avowal.db.engine import make_sessionmaker
from avowal.lifecycle import service as lifecycle
from avowal.policy.loader import parse_text
from tests.factories import policy_text
from tests.integration.consent.helpers import banner_config, config_of
from tests.serving import enforce

PUBLIC = "http://127.0.0.1:8000"


def test_c_js_wraps_the_banner_around_its_config_and_caches(client: TestClient) -> None:
    answer = client.get("/c.js")
    assert answer.status_code == 200
    assert answer.headers["content-type"].startswith("application/javascript")
    assert answer.headers["cache-control"] == "public, max-age=300"
    etag = answer.headers["etag"]
    assert answer.text.startswith("(function(C){" + banner.BANNER_JS)
    conf = config_of(answer.text)
    assert conf["css"] == banner.BANNER_CSS
    assert "<" not in answer.text[answer.text.rindex("})(") :], "no '<' in the embedded JSON"
    again = client.get("/c.js", headers={"If-None-Match": etag})
    assert again.status_code == 304
    assert again.content == b""
    assert again.headers["etag"] == etag
    assert client.get("/c.js", headers={"If-None-Match": '"other"'}).status_code == 200


def test_config_of_the_example_policy(client: TestClient) -> None:
    conf = banner_config(client)
    assert len(conf["version"]) == 12 and int(conf["version"], 16) >= 0
    assert conf["endpoint"] == f"{PUBLIC}/v1/consents/cookies"
    assert conf["privacy_url"] == f"{PUBLIC}/privacy"
    assert conf["cookie"] == {"name": "cm_consent", "days": 365, "path": "/", "domain": None}
    assert conf["gpc"] is True and conf["consent_mode"] is True
    assert [(c["key"], c["required"]) for c in conf["categories"]] == [
        ("strictly_necessary", True),
        ("analytics", False),
        ("advertising", False),
        ("performance", False),
    ]
    analytics = conf["categories"][1]["cookies"]
    assert analytics == [
        {
            "name": "cm_usage",
            "provider": "ContactMonkey",
            "lifetime": "13 months",
            "description": "Tells us how the site is used, so we can understand which pages "
            "help visitors.",
            "domain": None,
            "path": "/",
        }
    ]
    assert set(conf["texts"]) == {"en", "fr"}
    for words in conf["texts"].values():
        assert set(words["categories"]) == {
            "strictly_necessary",
            "analytics",
            "advertising",
            "performance",
        }
        assert words["refusal_consequence"] == (
            "Refusing cookies may limit your use of some website features."
        )
        assert words["accept_all"] and words["reject_all"] and words["gpc_note"]
    assert conf["texts"]["fr"]["reject_all"] == "Tout refuser"
    assert conf["default_language"] == "en"
    assert conf["change"] is None


def _with(change: Any) -> Any:
    return parse_text(policy_text(change))


def test_version_follows_the_cookie_declaration_only(app: FastAPI, client: TestClient) -> None:
    first = banner_config(client)["version"]

    def retitle(data: dict[str, Any]) -> None:
        data["policy"]["title"] = data["policy"].get("title", "Privacy") + " (revised)"

    enforce(app, _with(retitle))
    assert banner_config(client)["version"] == first

    def longer(data: dict[str, Any]) -> None:
        retitle(data)
        data["cookies"][1]["lifetime"] = "24 months"

    enforce(app, _with(longer))
    changed = banner_config(client)
    assert changed["version"] != first
    assert changed["categories"][1]["cookies"][0]["lifetime"] == "24 months"


def test_an_announced_version_is_shown_without_a_new_banner_version(
    app: FastAPI, client: TestClient
) -> None:
    before = banner_config(client)
    effective = dt.date.today() + dt.timedelta(days=60)

    def later(data: dict[str, Any]) -> None:
        data["policy"]["effective"] = effective
        data["cookie_rules"]["honour_global_privacy_control"] = True
        data["policy"]["title"] = "Privacy policy, as revised"

    with make_sessionmaker(app.state.engine)() as s, s.begin():
        version = lifecycle.publish(
            s, _with(later), by="officer@example.com", summary="A new title."
        )
        new_id, old_id = version.version_id, version.previous_id
    # /c.js is kept for the refresh delay; an announced change shows once it has passed.
    assert banner_config(client)["change"] is None
    app.state.banner_scripts.seconds = 0
    conf = banner_config(client)
    assert conf["version"] == before["version"]
    assert conf["change"] == {
        "effective": effective.isoformat(),
        "url": f"{PUBLIC}/privacy/diff?from={old_id}&to={new_id}",
        "material": False,
        "summary": "A new title.",
    }


def test_gpc_json_says_since_when_and_only_when_honoured(app: FastAPI, client: TestClient) -> None:
    answer = client.get("/.well-known/gpc.json")
    assert answer.status_code == 200
    effective = str(app.state.policies.current().policy.policy.effective)
    assert answer.json() == {"gpc": True, "lastUpdate": effective}

    def ignore(data: dict[str, Any]) -> None:
        data["cookie_rules"]["honour_global_privacy_control"] = False

    enforce(app, _with(ignore))
    refused = client.get("/.well-known/gpc.json")
    assert refused.status_code == 404
    assert refused.json()["error"] == "gpc_not_honoured"
    assert banner_config(client)["gpc"] is False

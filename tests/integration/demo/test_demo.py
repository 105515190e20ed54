"""The demo site at /demo/: its pages, its forms sent through avowal's client under the notice
shown, a minor's sign-up starting parental consent, and its service token."""

from __future__ import annotations

import re
import stat
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from avowal.app import create_app
from avowal.callers import service as callers
from avowal.client import Client
from avowal.db.engine import make_sessionmaker
from avowal.demo import site
from avowal.lib.security import InsecureConfiguration, check_production
from avowal.policy.loader import load_file
from avowal.settings import Settings

NOTICE_ID = re.compile(r'name="notice_id" value="([0-9a-f]{64})"')


@pytest.fixture
def demo(settings: Settings, engine: Engine) -> Iterator[tuple[TestClient, Client, Settings]]:
    """Yield the app with the demo (a test client), the demo's client of it, and the settings."""
    on = settings.model_copy(update={"demo": True})
    app = create_app(on, engine=engine)
    with TestClient(app) as browser:
        # The demo's own client: its token as the demo makes it, over the test client's transport.
        token = site.token(on, load_file(on.policy_file), make_sessionmaker(engine))
        app.state.demo_client = Client("http://testserver", token, http=browser)
        yield browser, app.state.demo_client, on


def form(browser: TestClient, point: str) -> str:
    page = browser.get(f"/demo/forms/{point}")
    assert page.status_code == 200, page.text
    found = NOTICE_ID.search(page.text)
    assert found is not None, page.text
    return found.group(1)


def test_the_home_page_has_the_banner_the_tracker_and_a_form_per_point(
    demo: tuple[TestClient, Client, Settings],
) -> None:
    browser, _, _ = demo
    home = browser.get("/demo/")
    assert home.status_code == 200
    for point in ("registration", "purchase", "contact"):
        assert f'href="/demo/forms/{point}"' in home.text
    assert '<script async src="/c.js"></script>' in home.text  # the cookie banner
    assert '<script defer data-domain="www.contactmonkey.com" src="/a.js">' in home.text
    assert 'href="/privacy"' in home.text and 'href="/privacy/me"' in home.text
    assert browser.get("/demo/forms/nothing").status_code == 404


def test_a_purchase_keeps_the_card_as_its_last_four_digits_for_the_announced_processor(
    demo: tuple[TestClient, Client, Settings],
) -> None:
    browser, client, _ = demo
    notice = form(browser, "purchase")
    page = browser.get("/demo/forms/purchase").text
    assert "Card payment processor" in page  # announced before anything is sent
    sent = browser.post(
        "/demo/forms/purchase",
        data={
            "notice_id": notice,
            "name": "Ada Example",
            "email": "ada@example.com",
            "address": "1 Example Street",
            "card": "4242 4242 4242 4242",
            "csrf": "the site's own field, never sent",
        },
    )
    assert sent.status_code == 200, sent.text
    subject = re.search(r'id="subject">([^<]+)<', sent.text)
    assert subject is not None and "payment_processor" in sent.text
    read = client.read(subject.group(1), purpose="essential.service.payment_processing")
    assert read.values["card"].value == "4242"
    assert "csrf" not in str(read.values)


def test_a_minors_sign_up_waits_for_a_parent(demo: tuple[TestClient, Client, Settings]) -> None:
    browser, client, _ = demo
    notice = form(browser, "registration")
    page = browser.get("/demo/forms/registration").text
    assert 'name="parent_email"' in page and 'data-under="18"' in page
    sent = browser.post(
        "/demo/forms/registration",
        data={
            "notice_id": notice,
            "name": "Sam Example",
            "email": "sam@example.com",
            "birth_date": "2015-05-01",
            "parent_email": "parent@example.com",
        },
    )
    assert sent.status_code == 200, sent.text
    assert 'id="parental"' in sent.text
    subject = re.search(r'id="subject">([^<]+)<', sent.text)
    assert subject is not None
    # Stored locked: nothing of theirs is readable until a parent consents.
    read = client.read(subject.group(1), purpose="essential.service.authentication")
    assert read.values == {}
    assert read.withheld and all("parent" in w.reason for w in read.withheld), read.withheld


def test_a_changed_notice_is_shown_again_and_bad_values_are_named(
    demo: tuple[TestClient, Client, Settings],
) -> None:
    browser, _, _ = demo
    values: dict[str, Any] = {
        "name": "Ada Example",
        "email": "ada@example.com",
        "birth_date": "1990-01-01",
    }
    stale = browser.post("/demo/forms/registration", data={"notice_id": "0" * 64, **values})
    assert stale.status_code == 409
    assert "These terms changed" in stale.text and "Nothing was saved" in stale.text
    assert 'value="Ada Example"' in stale.text  # what the person typed, kept
    missing = browser.post("/demo/forms/registration", data=values)
    assert missing.status_code == 400 and 'role="alert"' in missing.text
    bad = browser.post(
        "/demo/forms/registration",
        data={"notice_id": form(browser, "registration"), **values, "email": "not an address"},
    )
    assert 400 <= bad.status_code < 500 and "email" in bad.text
    adult = browser.post(
        "/demo/forms/registration",
        data={"notice_id": form(browser, "registration"), **values},
    )
    assert adult.status_code == 200 and 'id="parental"' not in adult.text


def test_the_demo_token_is_kept_private_reused_and_replaced_once_revoked(
    settings: Settings, engine: Engine
) -> None:
    on = settings.model_copy(update={"demo": True})
    policy = load_file(on.policy_file)
    sessions = make_sessionmaker(engine)
    first = site.token(on, policy, sessions)
    path = site.token_file(on)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert site.token(on, policy, sessions) == first
    with sessions.begin() as session:
        (row,) = [t for t in callers.list_tokens(session) if t.name.startswith("demo-site-")]
        assert row.role == "web_backend"
        callers.revoke(session, row.name)
    second = site.token(on, policy, sessions)
    assert second != first and path.read_text().strip() == second


def test_the_demo_is_off_unless_asked_and_refused_in_production(
    settings: Settings, engine: Engine
) -> None:
    with TestClient(create_app(settings, engine=engine)) as browser:
        assert browser.get("/demo/").status_code == 404
    production = settings.model_copy(
        update={
            "env": "production",
            "demo": True,
            "trusted_proxies": ["127.0.0.1"],
            "public_url": "https://privacy.example.com",
        }
    )
    with pytest.raises(InsecureConfiguration, match="AVOWAL_DEMO"):
        check_production(production)

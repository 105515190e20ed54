"""A Django site's registration form on avowal: notice shown, values collected under it, a
changed notice shown again instead of stored, a read for a purpose not granted refused."""

from __future__ import annotations

import secrets
from collections.abc import Callable, Iterator
from typing import Any

import django
import pytest
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.template import engines
from django.test import Client as Browser
from django.test import override_settings
from django.urls import path
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.client import Client, InvalidData, PurposeNotAllowed
from avowal.integrations import NoticeChanged, for_purpose, submit
from avowal.integrations import django as avowal_django
from avowal.vault.schemas import ReadResult
from tests.factories import REGISTRATION
from tests.integration.integrations.conftest import (
    AUTHENTICATION,
    DOMAIN,
    FORM,
    NEWSLETTER,
    PUBLIC_URL,
    assert_shows_notice,
    held,
    hidden_notice_id,
)

PAGE = """{% load avowal %}<!doctype html><html><head>{% avowal_banner %}{% avowal_tracker %}
</head><body>{{ notice|avowal_notice:changed }}
<form method="post">{{ notice|avowal_fields:values }}<button name="send">Register</button></form>
</body></html>"""


@for_purpose(NEWSLETTER, fields=["email"])
def newsletter_address(data: ReadResult) -> str:
    return str(data.values["email"].value)


def _page(request: HttpRequest, context: dict[str, Any], status: int) -> HttpResponse:
    template = engines["django"].from_string(PAGE)
    return HttpResponse(template.render(context, request), status=status)


def register(request: HttpRequest) -> HttpResponse:
    client = avowal_django.client()
    if request.method != "POST":
        notice = client.notice("registration")
        return _page(request, {"notice": notice, "values": {}, "changed": None}, 200)
    try:
        ref = f"django-user-{secrets.token_hex(4)}"
        outcome = submit(client, "registration", request.POST, ref=ref)
    except InvalidData as exc:
        return JsonResponse({"error": exc.error, "message": exc.message}, status=422)
    if isinstance(outcome, NoticeChanged):
        context = {"notice": outcome.notice, "values": outcome.values, "changed": outcome.changes}
        return _page(request, context, 409)
    receipt = outcome.collected.receipt.receipt_id
    return JsonResponse({"subject_id": outcome.subject_id, "receipt": receipt}, status=201)


def newsletter(request: HttpRequest, subject: str) -> HttpResponse:
    try:
        return JsonResponse({"email": newsletter_address(avowal_django.client(), subject)})
    except PurposeNotAllowed as exc:
        body = {"error": exc.error, "purpose": exc.purpose, "message": exc.message}
        return JsonResponse(body, status=403)


urlpatterns = [
    path("register", register),
    path("newsletter/<str:subject>", newsletter),
]


@pytest.fixture(scope="module", autouse=True)
def django_configured() -> None:
    """Configure Django once for the process: this module's URLs and avowal's template library."""
    if not settings.configured:
        settings.configure(
            ALLOWED_HOSTS=["testserver"],
            ROOT_URLCONF=__name__,
            SECRET_KEY="test-only-not-secret",
            INSTALLED_APPS=[],
            MIDDLEWARE=[],
            TEMPLATES=[
                {
                    "BACKEND": "django.template.backends.django.DjangoTemplates",
                    "OPTIONS": {"libraries": {"avowal": "avowal.integrations.django"}},
                }
            ],
        )
        django.setup()


@pytest.fixture
def site(web_token: str) -> Iterator[Callable[[TestClient], Browser]]:
    """Return a browser of the site, its back end talking to a given avowal server."""
    active: list[Any] = []

    def open_site(http: TestClient) -> Browser:
        config = {"BASE_URL": "http://testserver", "TOKEN": web_token, "HTTP": http}
        override = override_settings(AVOWAL={**config, "PUBLIC_URL": PUBLIC_URL, "DOMAIN": DOMAIN})
        if active:
            active.pop().disable()
        override.enable()
        active.append(override)
        return Browser()

    yield open_site
    for override in active:
        override.disable()


def test_the_form_shows_the_notice_its_id_and_avowal_s_tags(
    client: TestClient, site: Callable[[TestClient], Browser]
) -> None:
    page = site(client).get("/register")
    assert page.status_code == 200
    text = page.content.decode()
    assert_shows_notice(text, client.get("/v1/notices/registration").json())
    assert f'data-avowal="{PUBLIC_URL}"' in text
    assert f'<script defer data-domain="{DOMAIN}" src="{PUBLIC_URL}/a.js"></script>' in text
    assert "changed since" not in text


def test_a_sent_form_reaches_the_vault_for_its_purposes(
    client: TestClient, site: Callable[[TestClient], Browser], backend: Client
) -> None:
    browser = site(client)
    shown = hidden_notice_id(browser.get("/register").content.decode())
    answer = browser.post("/register", data={**FORM, "notice_id": shown})
    assert answer.status_code == 201, answer.content
    receipt = backend.receipt(answer.json()["receipt"]).receipt
    assert receipt.notice_id == shown and "csrf_token" not in receipt.fields
    data = backend.read(answer.json()["subject_id"], purpose=AUTHENTICATION, fields=["email"])
    assert data.values["email"].value == FORM["email"]


def test_a_changed_notice_is_shown_again_and_nothing_is_stored(
    app: FastAPI,
    client: TestClient,
    changed_http: TestClient,
    site: Callable[[TestClient], Browser],
) -> None:
    shown = hidden_notice_id(site(client).get("/register").content.decode())
    # The policy changes while the person fills the form in.
    browser = site(changed_http)
    before = held(app)
    answer = browser.post("/register", data={**FORM, "notice_id": shown})
    assert answer.status_code == 409
    page = answer.content.decode()
    current = changed_http.get("/v1/notices/registration").json()
    assert current["notice_id"] != shown
    assert_shows_notice(page, current)
    assert "These terms changed since this form was shown to you" in page
    assert 'value="ada@example.com"' in page
    assert held(app) == before
    again = browser.post("/register", data={**FORM, "notice_id": current["notice_id"]})
    assert again.status_code == 201
    assert held(app) > before


def test_a_read_for_a_purpose_not_granted_is_refused(
    client: TestClient, site: Callable[[TestClient], Browser], backend: Client
) -> None:
    subject = backend.collect("registration", REGISTRATION, ref="django-1").subject_id
    answer = site(client).get(f"/newsletter/{subject}")
    assert answer.status_code == 403
    assert answer.json()["error"] == "purpose_not_granted"
    assert answer.json()["purpose"] == NEWSLETTER


def test_the_client_is_made_once_and_a_missing_setting_is_named(
    client: TestClient, site: Callable[[TestClient], Browser]
) -> None:
    site(client)
    assert avowal_django.client() is avowal_django.client()
    with (
        override_settings(AVOWAL={"BASE_URL": "http://testserver"}),
        pytest.raises(ImproperlyConfigured, match="'TOKEN'"),
    ):
        avowal_django.client()

"""A Flask site's registration form on avowal: notice shown, values collected under it, a
changed notice shown again instead of stored, a read for a purpose not granted refused."""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient
from flask import Flask, render_template_string, request

from avowal.client import Client, InvalidData, PurposeNotAllowed
from avowal.integrations import NoticeChanged, for_purpose, submit
from avowal.integrations import flask as avowal_flask
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

PAGE = """<!doctype html><html><head>{{ avowal_banner() }}{{ avowal_tracker() }}</head><body>
{{ avowal_notice(notice, changed=changed) }}
<form method="post">{{ avowal_fields(notice, values) }}<button name="send">Register</button></form>
</body></html>"""


@for_purpose(NEWSLETTER, fields=["email"])
def newsletter_address(data: ReadResult) -> str:
    return str(data.values["email"].value)


def site(http: TestClient, token: str) -> Flask:
    """The site: a registration form and a page reading for the newsletter."""
    app = Flask(__name__)
    avowal_flask.init_app(
        app, Client("http://testserver", token, http=http), public_url=PUBLIC_URL, domain=DOMAIN
    )

    @app.get("/register")
    def form() -> str:
        notice = avowal_flask.client().notice("registration")
        return render_template_string(PAGE, notice=notice, values={}, changed=False)

    @app.post("/register")
    def register() -> Any:
        try:
            ref = f"flask-user-{secrets.token_hex(4)}"
            outcome = submit(avowal_flask.client(), "registration", request.form, ref=ref)
        except InvalidData as exc:
            return {"error": exc.error, "message": exc.message}, 422
        if isinstance(outcome, NoticeChanged):
            page = render_template_string(
                PAGE, notice=outcome.notice, values=outcome.values, changed=True
            )
            return page, 409
        return {
            "subject_id": outcome.subject_id,
            "receipt": outcome.collected.receipt.receipt_id,
        }, 201

    @app.get("/newsletter/<subject>")
    def newsletter(subject: str) -> Any:
        try:
            return {"email": newsletter_address(avowal_flask.client(), subject)}
        except PurposeNotAllowed as exc:
            return {"error": exc.error, "purpose": exc.purpose, "message": exc.message}, 403

    return app


def test_the_form_shows_the_notice_its_id_and_avowal_s_tags(
    client: TestClient, web_token: str
) -> None:
    page = site(client, web_token).test_client().get("/register")
    assert page.status_code == 200
    text = page.get_data(as_text=True)
    assert_shows_notice(text, client.get("/v1/notices/registration").json())
    assert f'data-avowal="{PUBLIC_URL}"' in text
    assert f'<script defer data-domain="{DOMAIN}" src="{PUBLIC_URL}/a.js"></script>' in text
    assert "changed since" not in text


def test_a_sent_form_reaches_the_vault_for_its_purposes(
    client: TestClient, web_token: str, backend: Client
) -> None:
    browser = site(client, web_token).test_client()
    shown = hidden_notice_id(browser.get("/register").get_data(as_text=True))
    answer = browser.post("/register", data={**FORM, "notice_id": shown})
    assert answer.status_code == 201, answer.get_data(as_text=True)
    subject = answer.json["subject_id"]
    receipt = backend.receipt(answer.json["receipt"]).receipt
    assert receipt.notice_id == shown and "csrf_token" not in receipt.fields
    data = backend.read(subject, purpose=AUTHENTICATION, fields=["email"])
    assert data.values["email"].value == FORM["email"]


def test_a_changed_notice_is_shown_again_and_nothing_is_stored(
    app: FastAPI, client: TestClient, changed_http: TestClient, web_token: str
) -> None:
    shown = hidden_notice_id(site(client, web_token).test_client().get("/register").text)
    # The policy changes while the person fills the form in.
    browser = site(changed_http, web_token).test_client()
    before = held(app)
    answer = browser.post("/register", data={**FORM, "notice_id": shown})
    assert answer.status_code == 409
    page = answer.get_data(as_text=True)
    current = changed_http.get("/v1/notices/registration").json()
    assert current["notice_id"] != shown
    assert_shows_notice(page, current)
    assert "These terms changed since this form was shown to you" in page
    assert 'value="ada@example.com"' in page
    assert held(app) == before
    # Sent again, with the new notice shown: the person agreed to it.
    again = browser.post("/register", data={**FORM, "notice_id": current["notice_id"]})
    assert again.status_code == 201
    assert held(app) > before


def test_a_read_for_a_purpose_not_granted_is_refused(
    client: TestClient, web_token: str, backend: Client
) -> None:
    subject = backend.collect("registration", REGISTRATION, ref="flask-1").subject_id
    answer = site(client, web_token).test_client().get(f"/newsletter/{subject}")
    assert answer.status_code == 403
    assert answer.json["error"] == "purpose_not_granted"
    assert answer.json["purpose"] == NEWSLETTER

"""A FastAPI site's registration form on avowal: notice shown, values collected under it, a
changed notice shown again instead of stored, a read for a purpose not granted refused."""

from __future__ import annotations

import secrets
from typing import Any

import jinja2
from fastapi import Depends, FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse, Response
from fastapi.templating import Jinja2Templates
from fastapi.testclient import TestClient

from avowal.client import Client, InvalidData, PurposeNotAllowed
from avowal.integrations import NoticeChanged, for_purpose, submit
from avowal.integrations.starlette import ClientProvider, install
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


def site(http: TestClient, token: str) -> TestClient:
    """Return a browser of the site: a registration form and a page reading for the newsletter."""
    env = jinja2.Environment(loader=jinja2.DictLoader({"register.html": PAGE}), autoescape=True)
    templates = Jinja2Templates(env=env)
    install(templates, public_url=PUBLIC_URL, domain=DOMAIN)
    avowal = ClientProvider("http://testserver", token, http=http)
    app = FastAPI()

    def page(request: Request, context: dict[str, Any], status: int) -> Response:
        return templates.TemplateResponse(request, "register.html", context, status_code=status)

    @app.get("/register", response_class=HTMLResponse)
    def form(request: Request, client: Client = Depends(avowal)) -> Response:
        notice = client.notice("registration")
        return page(request, {"notice": notice, "values": {}, "changed": False}, 200)

    @app.post("/register")
    async def register(request: Request, client: Client = Depends(avowal)) -> Response:
        sent = {k: v for k, v in (await request.form()).items() if isinstance(v, str)}
        try:
            ref = f"fastapi-user-{secrets.token_hex(4)}"
            outcome = submit(client, "registration", sent, ref=ref)
        except InvalidData as exc:
            return JSONResponse({"error": exc.error, "message": exc.message}, status_code=422)
        if isinstance(outcome, NoticeChanged):
            context = {"notice": outcome.notice, "values": outcome.values, "changed": True}
            return page(request, context, 409)
        receipt = outcome.collected.receipt.receipt_id
        body = {"subject_id": outcome.subject_id, "receipt": receipt}
        return JSONResponse(body, status_code=201)

    @app.get("/newsletter/{subject}")
    def newsletter(subject: str, client: Client = Depends(avowal)) -> Response:
        try:
            return JSONResponse({"email": newsletter_address(client, subject)})
        except PurposeNotAllowed as exc:
            body = {"error": exc.error, "purpose": exc.purpose, "message": exc.message}
            return JSONResponse(body, status_code=403)

    return TestClient(app)


def test_the_form_shows_the_notice_its_id_and_avowal_s_tags(
    client: TestClient, web_token: str
) -> None:
    page = site(client, web_token).get("/register")
    assert page.status_code == 200
    assert_shows_notice(page.text, client.get("/v1/notices/registration").json())
    assert f'data-avowal="{PUBLIC_URL}"' in page.text
    assert f'<script defer data-domain="{DOMAIN}" src="{PUBLIC_URL}/a.js"></script>' in page.text
    assert "changed since" not in page.text


def test_a_sent_form_reaches_the_vault_for_its_purposes(
    client: TestClient, web_token: str, backend: Client
) -> None:
    browser = site(client, web_token)
    shown = hidden_notice_id(browser.get("/register").text)
    answer = browser.post("/register", data={**FORM, "notice_id": shown})
    assert answer.status_code == 201, answer.text
    receipt = backend.receipt(answer.json()["receipt"]).receipt
    assert receipt.notice_id == shown and "csrf_token" not in receipt.fields
    data = backend.read(answer.json()["subject_id"], purpose=AUTHENTICATION, fields=["email"])
    assert data.values["email"].value == FORM["email"]


def test_a_changed_notice_is_shown_again_and_nothing_is_stored(
    app: FastAPI, client: TestClient, changed_http: TestClient, web_token: str
) -> None:
    shown = hidden_notice_id(site(client, web_token).get("/register").text)
    # The policy changes while the person fills the form in.
    browser = site(changed_http, web_token)
    before = held(app)
    answer = browser.post("/register", data={**FORM, "notice_id": shown})
    assert answer.status_code == 409
    current = changed_http.get("/v1/notices/registration").json()
    assert current["notice_id"] != shown
    assert_shows_notice(answer.text, current)
    assert "These terms changed since this form was shown to you" in answer.text
    assert 'value="ada@example.com"' in answer.text
    assert held(app) == before
    again = browser.post("/register", data={**FORM, "notice_id": current["notice_id"]})
    assert again.status_code == 201
    assert held(app) > before


def test_a_read_for_a_purpose_not_granted_is_refused(
    client: TestClient, web_token: str, backend: Client
) -> None:
    subject = backend.collect("registration", REGISTRATION, ref="fastapi-1").subject_id
    answer = site(client, web_token).get(f"/newsletter/{subject}")
    assert answer.status_code == 403
    assert answer.json()["error"] == "purpose_not_granted"
    assert answer.json()["purpose"] == NEWSLETTER

"""A minor's data locked until a parent consents (e-mail plus), over a real SMTP server.

The whole flow: the age gate, the parent's message, the lock on every read, lookup, disclosure
and communication, consent with an optional purpose refused, the delayed confirmation and its
receipt, revocation, refusal and silence erasing everything (checked in the raw database
files), reused, expired and forged links, an adult passing straight through.
"""

from __future__ import annotations

import datetime as dt
import re
import uuid
from email.message import Message
from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.children.models import ParentalConsent
from avowal.crypto import signing
from avowal.mail import service as mail
from avowal.mail.worker import PassReport
from avowal.settings import Settings
from tests import stored
from tests.integration.mail.conftest import (
    Certificate,
    Frozen,
    SmtpServer,
    run_pass,
    serve,
    smtp_settings,
)

PARENT = "parent@example.com"
KID = {
    "name": "Kim Example",
    "email": "kim@example.com",
    "birth_date": "",  # set from the clock: ten years old
}
OPTIONAL = "marketing.communications.email"
AUTH = "essential.service.authentication"


@pytest.fixture
def smtp(certificate: Certificate) -> Any:
    with serve("starttls", certificate) as server:
        yield server


def _headers(app: FastAPI, role: str = "web_backend") -> dict[str, str]:
    from avowal.callers import service as callers

    with app.state.sessionmaker() as session, session.begin():
        token = callers.create(
            session, app.state.policies.current(), f"{role}-{uuid.uuid4().hex[:8]}", role
        )
    return {"Authorization": f"Bearer {token}"}


def _birth(frozen: Frozen, years: int) -> str:
    today = frozen.now.date()
    return today.replace(year=today.year - years).isoformat()


def _collect(
    client: TestClient,
    headers: dict[str, str],
    ref: str,
    values: dict[str, Any],
    parent: str | None = PARENT,
    point: str = "registration",
) -> Any:
    body: dict[str, Any] = {
        "notice_id": client.get(f"/v1/notices/{point}").json()["notice_id"],
        "subject": {"ref": ref},
        "values": values,
    }
    if parent is not None:
        notice = client.get(f"/v1/notices/{point}/parent").json()
        body["parent"] = {"email": parent, "notice_id": notice["notice_id"]}
    return client.post(f"/v1/collect/{point}", json=body, headers=headers)


def _deliver(app: FastAPI, settings: Settings, smtp: SmtpServer) -> PassReport:
    return run_pass(app, smtp_settings(settings, smtp.port, _certificate(smtp)))


_CERTS: dict[int, Certificate] = {}


def _certificate(smtp: SmtpServer) -> Certificate:
    return _CERTS[smtp.port]


def _text(msg: Message) -> str:
    for part in msg.walk():
        if part.get_content_type() == "text/plain":
            payload = part.get_payload(decode=True)
            assert isinstance(payload, bytes)
            return payload.decode()
    raise AssertionError("no text part")


def _link(text: str) -> str:
    found = re.search(r"https?://\S+/privacy/parent/(\S+)", text)
    assert found is not None, text
    return f"/privacy/parent/{found.group(1)}"


@pytest.fixture
def world(
    app: FastAPI,
    client: TestClient,
    settings: Settings,
    certificate: Certificate,
    smtp: SmtpServer,
    frozen: Frozen,
) -> dict[str, Any]:
    _CERTS[smtp.port] = certificate
    return {"headers": _headers(app)}


def _read(client: TestClient, headers: dict[str, str], sid: str, purpose: str = AUTH) -> Any:
    return client.get(f"/v1/subjects/{sid}/data", params={"purpose": purpose}, headers=headers)


def test_the_python_client_sends_the_parent_with_the_current_parent_notice(
    as_role: Any, world: dict[str, Any], frozen: Frozen
) -> None:
    backend = as_role("web_backend")
    kid = {**KID, "birth_date": _birth(frozen, 9)}
    answer = backend.collect("registration", kid, ref="kid-8", parent_email=PARENT)
    assert answer.parental_consent is not None and answer.parental_consent.status == "pending"
    assert backend.read(answer.subject_id, purpose=AUTH).values == {}


def test_an_adult_passes_straight_through(
    app: FastAPI, client: TestClient, world: dict[str, Any], frozen: Frozen
) -> None:
    adult = {**KID, "birth_date": _birth(frozen, 30)}
    answer = _collect(client, world["headers"], "adult-1", adult, parent=None)
    assert answer.status_code == 201, answer.text
    assert answer.json()["parental_consent"] is None
    read = _read(client, world["headers"], answer.json()["subject_id"]).json()
    assert read["values"]["name"]["value"] == "Kim Example" and read["withheld"] == []


def test_a_minor_needs_a_parent_and_the_current_parent_notice(
    app: FastAPI, client: TestClient, world: dict[str, Any], frozen: Frozen, settings: Settings
) -> None:
    kid = {**KID, "birth_date": _birth(frozen, 10)}
    answer = _collect(client, world["headers"], "kid-0", kid, parent=None)
    assert answer.status_code == 422 and answer.json()["error"] == "parent_required"
    notice = client.get("/v1/notices/registration/parent").json()
    assert answer.json()["parent_notice_id"] == notice["notice_id"]
    body = {
        "notice_id": client.get("/v1/notices/registration").json()["notice_id"],
        "subject": {"ref": "kid-0"},
        "values": kid,
        "parent": {"email": PARENT, "notice_id": "0" * 64},
    }
    stale = client.post("/v1/collect/registration", json=body, headers=world["headers"])
    assert stale.status_code == 409 and stale.json()["error"] == "parent_notice_not_current"
    assert client.get("/v1/notices/purchase/parent").status_code == 404
    with app.state.sessionmaker() as session:
        assert session.scalars(select(ParentalConsent)).all() == []
    assert b"kim@example.com" not in stored.everything(app, settings)  # nothing was stored


def test_the_whole_flow_locks_then_opens_for_the_consented_purposes_only(
    app: FastAPI,
    client: TestClient,
    world: dict[str, Any],
    frozen: Frozen,
    settings: Settings,
    smtp: SmtpServer,
) -> None:
    headers = world["headers"]
    kid = {**KID, "birth_date": _birth(frozen, 10)}
    answer = _collect(client, headers, "kid-1", kid)
    assert answer.status_code == 201, answer.text
    sid = answer.json()["subject_id"]
    pending = answer.json()["parental_consent"]
    assert pending["status"] == "pending" and "parent" in pending["next"]
    # Locked: every read, for any purpose, withholds everything, saying why.
    for purpose in (AUTH, OPTIONAL, "essential.service.operations.support"):
        role = "newsletter_service" if purpose == OPTIONAL else "web_backend"
        read = _read(
            client, _headers(app, role) if role != "web_backend" else headers, sid, purpose
        )
        assert read.status_code == 200, read.text
        body = read.json()
        assert body["values"] == {}
        assert {w["reason"] for w in body["withheld"]} == {"parental_consent_pending"}
    # A lookup answers as for someone unknown; a disclosure is refused; no service mail.
    found = client.get(
        "/v1/subjects/lookup",
        params={"field": "email", "value": KID["email"], "purpose": AUTH},
        headers=headers,
    )
    assert found.status_code == 200 and found.json()["subject_ids"] == []
    refused = client.post(
        "/v1/disclosures",
        json={
            "subject_id": sid,
            "recipient": "payment_processor",
            "fields": ["name"],
            "purpose": "essential.service.payment_processing",
        },
        headers=headers,
    )
    assert refused.status_code == 403 and refused.json()["error"] == "parental_consent_pending"
    with app.state.sessionmaker() as session:
        state = app.state
        assert mail.service_address(session, state.policies.current(), state.secrets, sid) is None
    # The parent's message, over SMTP: what, why, how long, no outside parties, the link.
    assert _deliver(app, settings, smtp).sent
    (message,) = smtp.inbox.messages()
    assert smtp.inbox.received[0].rcpt_tos == [PARENT]
    text = _text(message)
    for expected in ("Full name", "E-mail address", "Date of birth", "outside parties", "730"):
        assert expected in text, expected
    assert "Kim Example" not in text  # the values themselves are not mailed
    assert "refusing these uses: to inform you of service updates" in text
    assert PARENT.encode() not in stored.everything(app, settings)  # sealed under the child's key
    link = _link(text)
    page = client.get(link)
    assert page.status_code == 200 and "Full name" in page.text and OPTIONAL in page.text
    # Consent, refusing the optional purpose: still locked until the confirmation is sent.
    done = client.post(link, data={"decision": "consent", "refuse": OPTIONAL})
    assert done.status_code == 200 and "once more" in done.text
    again = client.post(link, data={"decision": "consent"})
    assert again.status_code == 410  # single use
    assert _read(client, headers, sid).json()["values"] == {}
    frozen.advance(hours=23)
    _deliver(app, settings, smtp)
    assert len(smtp.inbox.messages()) == 1  # not yet
    frozen.advance(hours=2)
    report = _deliver(app, settings, smtp)
    assert report.parental_confirmed == 1
    confirmation = smtp.inbox.messages()[1]
    assert smtp.inbox.received[1].rcpt_tos == [PARENT]
    revoke = _link(_text(confirmation))
    # Usable now, for the consented purposes only, under a receipt naming the parent's consent.
    read = _read(client, headers, sid).json()
    assert read["values"]["name"]["value"] == "Kim Example" and read["withheld"] == []
    news = _read(client, _headers(app, "newsletter_service"), sid, OPTIONAL).json()
    assert news["values"] == {}
    reasons = {w["field"]: w["reason"] for w in news["withheld"]}
    assert reasons["email"] == "refused_by_parent"  # collected for news; the parent said no
    assert reasons["name"] == "purpose_not_allowed"  # never collected for news
    # Nor can the child (or the site) consent to it in the parent's place.
    notice_id = client.get("/v1/notices/registration").json()["notice_id"]
    instead = client.post(
        f"/v1/subjects/{sid}/consents",
        json={"point": "registration", "notice_id": notice_id},
        headers=headers,
    )
    assert instead.status_code == 403 and instead.json()["error"] == "parental_consent_pending"
    receipt_id = read["values"]["name"]["receipt_id"]
    signed = client.get(f"/v1/receipts/{receipt_id}").json()
    with app.state.sessionmaker() as session:
        row = session.scalars(select(ParentalConsent)).one()
    assert signed["receipt"]["basis"] == "parental_consent"
    assert signed["receipt"]["parental_consent_id"] == row.id
    assert signed["receipt"]["refused_purposes"] == [OPTIONAL]
    assert signing.verify(
        app.state.secrets.signing_key.public_key(), signed["receipt"], signed["signature"]
    )
    # Revocation erases the child and the parent's address.
    assert client.get(revoke).status_code == 200
    gone = client.post(revoke, data={"decision": "revoke"})
    assert gone.status_code == 200 and "erased" in gone.text
    assert _read(client, headers, sid).status_code == 410
    raw = stored.everything(app, settings)
    for secret in (PARENT, "Kim Example", KID["email"]):
        assert secret.encode() not in raw, secret
    with app.state.sessionmaker() as session:
        row = session.scalars(select(ParentalConsent)).one()
        actions = [
            e.action
            for e in session.scalars(select(AuditEntry).where(AuditEntry.subject_id == sid))
        ]
    assert row.status == "revoked" and row.parent_address is None
    for step in (
        "collect",
        "parental_request",
        "parental_consent",
        "parental_confirmed",
        "parental_revoked",
        "erase",
    ):
        assert step in actions, step


def test_a_refusal_erases_everything_at_once(
    app: FastAPI,
    client: TestClient,
    world: dict[str, Any],
    frozen: Frozen,
    settings: Settings,
    smtp: SmtpServer,
) -> None:
    kid = {**KID, "birth_date": _birth(frozen, 12)}
    sid = _collect(client, world["headers"], "kid-2", kid).json()["subject_id"]
    _deliver(app, settings, smtp)
    link = _link(_text(smtp.inbox.messages()[0]))
    done = client.post(link, data={"decision": "refuse"})
    assert done.status_code == 200 and "erased" in done.text
    assert _read(client, world["headers"], sid).status_code == 410
    assert client.get(link).status_code == 410  # used
    raw = stored.everything(app, settings)
    for secret in (PARENT, "Kim Example", KID["email"]):
        assert secret.encode() not in raw, secret


def test_silence_expires_and_erases(
    app: FastAPI,
    client: TestClient,
    world: dict[str, Any],
    frozen: Frozen,
    settings: Settings,
    smtp: SmtpServer,
) -> None:
    kid = {**KID, "birth_date": _birth(frozen, 12)}
    sid = _collect(client, world["headers"], "kid-3", kid).json()["subject_id"]
    _deliver(app, settings, smtp)
    link = _link(_text(smtp.inbox.messages()[0]))
    frozen.advance(days=13, hours=23)
    assert _deliver(app, settings, smtp).parental_expired == 0
    frozen.advance(hours=2)
    assert client.get(link).status_code == 410  # too late to answer
    assert _deliver(app, settings, smtp).parental_expired == 1
    assert _read(client, world["headers"], sid).status_code == 410
    with app.state.sessionmaker() as session:
        row = session.scalars(select(ParentalConsent)).one()
    assert row.status == "expired" and row.parent_address is None
    raw = stored.everything(app, settings)
    for secret in (PARENT, "Kim Example", KID["email"]):
        assert secret.encode() not in raw, secret


def test_forged_links_open_nothing(
    app: FastAPI,
    client: TestClient,
    world: dict[str, Any],
    frozen: Frozen,
    settings: Settings,
    smtp: SmtpServer,
) -> None:
    kid = {**KID, "birth_date": _birth(frozen, 12)}
    _collect(client, world["headers"], "kid-4", kid)
    _deliver(app, settings, smtp)
    link = _link(_text(smtp.inbox.messages()[0]))
    request_id, action, nonce, mac = link.rsplit("/", 1)[1].split(".")
    other = "y" if nonce.startswith("x") else "x"  # a first character the nonce does not have
    forged = [
        f"{request_id}.{action}.{nonce}.{'0' * 32}",  # a made-up signature
        f"{request_id}.revoke.{nonce}.{mac}",  # the signature of another action
        f"{request_id}.{action}.{other}{nonce[1:]}.{mac}",  # another nonce
        "not-a-token",
    ]
    for token in forged:
        assert client.get(f"/privacy/parent/{token}").status_code == 404, token
        assert (
            client.post(f"/privacy/parent/{token}", data={"decision": "consent"}).status_code == 404
        )
    with app.state.sessionmaker() as session:
        assert session.scalars(select(ParentalConsent)).one().status == "pending"


def test_a_child_who_came_of_age_keeps_their_data(
    app: FastAPI,
    client: TestClient,
    world: dict[str, Any],
    frozen: Frozen,
    settings: Settings,
    smtp: SmtpServer,
) -> None:
    born = (frozen.now - dt.timedelta(days=365 * 18 - 20)).date().isoformat()  # 18 in 20 days
    sid = _collect(client, world["headers"], "kid-5", {**KID, "birth_date": born}).json()[
        "subject_id"
    ]
    _deliver(app, settings, smtp)
    client.post(_link(_text(smtp.inbox.messages()[0])), data={"decision": "consent"})
    frozen.advance(days=2)
    _deliver(app, settings, smtp)
    revoke = _link(_text(smtp.inbox.messages()[1]))
    frozen.advance(days=30)
    refused = client.post(revoke, data={"decision": "revoke"})
    assert refused.status_code == 409 and "come of age" in refused.text
    assert _read(client, world["headers"], sid).json()["values"]["name"]["value"] == "Kim Example"


def _declaration_and_adults_only_purchase(data: dict[str, Any]) -> None:
    data["children"]["age_question"] = "declaration"
    del data["collection_points"]["registration"]["fields"]["birth_date"]


def test_a_declared_minor_needs_a_parent_and_an_adults_only_form_refuses_them(
    settings: Settings, engine: Any, tmp_path: Path, world: dict[str, Any]
) -> None:
    from avowal.app import create_app
    from tests.factories import write_policy

    changed = settings.model_copy(
        update={"policy_file": write_policy(tmp_path, _declaration_and_adults_only_purchase)}
    )
    other = create_app(changed, engine=engine)
    with TestClient(other) as client:
        headers = _headers(other)
        kid = {"name": "Kim Example", "email": "kim@example.com"}
        unsaid = _collect(client, headers, "kid-6", kid, parent=None)
        assert unsaid.status_code == 422 and unsaid.json()["error"] == "age_required"
        notice = client.get("/v1/notices/registration").json()["notice_id"]
        body = {"notice_id": notice, "subject": {"ref": "kid-6"}, "values": kid}
        under = client.post(
            "/v1/collect/registration", json={**body, "declared_under": True}, headers=headers
        )
        assert under.status_code == 422 and under.json()["error"] == "parent_required"
        adult = client.post(
            "/v1/collect/registration", json={**body, "declared_under": False}, headers=headers
        )
        assert adult.status_code == 201 and adult.json()["parental_consent"] is None
        # The purchase form does not admit minors: a declared minor is refused, nothing stored.
        purchase = client.get("/v1/notices/purchase").json()["notice_id"]
        values = {
            "name": "Kim Example",
            "email": "kim.billing@example.com",
            "address": "1 Example Street, Springfield",
            "card": "4242 4242 4242 4242",
        }
        refused = client.post(
            "/v1/collect/purchase",
            json={
                "notice_id": purchase,
                "subject": {"ref": "kid-7"},
                "values": values,
                "declared_under": True,
            },
            headers=headers,
        )
        assert refused.status_code == 403 and refused.json()["error"] == "minor_not_admitted"
    assert b"kim.billing@example.com" not in stored.everything(other, changed)


def test_silence_erases_even_when_mail_is_off_by_then(
    app: FastAPI, client: TestClient, world: dict[str, Any], frozen: Frozen, settings: Settings
) -> None:
    kid = {**KID, "birth_date": _birth(frozen, 12)}
    sid = _collect(client, world["headers"], "kid-9", kid).json()["subject_id"]
    frozen.advance(days=15)
    off = settings.model_copy(update={"mail_transport": "none"})
    report = run_pass(app, off)
    assert report.configured is False and report.parental_expired == 1
    assert _read(client, world["headers"], sid).status_code == 410

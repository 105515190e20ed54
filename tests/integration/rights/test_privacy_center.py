"""The privacy center, /privacy/me (issue 12, points 1 and 2): the person's own side.

A person signs in with a link mailed through a real SMTP server on loopback, sees and downloads
everything held (decrypted for them, receipts that verify), corrects, withdraws, objects and
erases; one person never sees or changes another's data; links are single-use and short; forms
need the session's CSRF token. SQLite and PostgreSQL.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.client import Client
from avowal.crypto import signing
from avowal.rights.models import Case
from avowal.settings import Settings
from avowal.vault.models import PersonalValue, Receipt
from tests import stored
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.mail.conftest import Frozen
from tests.integration.rights.conftest import Mail

MARKETING = "marketing.communications.email"
AUTHENTICATION = "essential.service.authentication"
SENT = "If we hold this address, we sent a link to it; it works once, for 15 minutes."
KEPT = {
    "registration": {**REGISTRATION, "phone": "+15550100"},
    "purchase": {**PURCHASE, "card": "4242"},
}
BOB = {
    "name": "Bob Example",
    "email": "bob@example.com",
    "phone": "+1 555-0101",
    "birth_date": "1985-06-02",
}
Deliver = Callable[[], list[Mail]]


# -- Helpers -----------------------------------------------------------------------------------


@pytest.fixture
def backend(as_role: Callable[[str], Client]) -> Client:
    return as_role("web_backend")


@pytest.fixture
def ada(backend: Client) -> str:
    """Register and sell to Ada (one person, two points); return her subject id."""
    sid = backend.collect("registration", REGISTRATION, ref="ada").subject_id
    assert backend.collect("purchase", PURCHASE, ref="ada").subject_id == sid
    return sid


@pytest.fixture
def bob(backend: Client) -> str:
    return backend.collect("registration", BOB, ref="bob").subject_id


def link_for(client: TestClient, deliver: Deliver, email: str) -> str:
    """Ask for a sign-in link for ``email``; return the path the delivered message links to."""
    answer = client.post("/privacy/me/link", data={"email": email})
    assert answer.status_code == 200, answer.text
    (mail,) = deliver()
    assert (mail.to, mail.subject) == (email, "Your link to your privacy center")
    return mail.link("/privacy/me/signin/")


def sign_in(client: TestClient, deliver: Deliver, email: str) -> str:
    """Sign in as the holder of ``email``; return the page's CSRF token."""
    used = client.post(link_for(client, deliver, email), follow_redirects=False)
    assert used.status_code == 303 and used.headers["location"] == "/privacy/me"
    return csrf_of(client)


def csrf_of(client: TestClient) -> str:
    page = client.get("/privacy/me")
    assert page.status_code == 200
    found = set(re.findall(r'name="csrf" value="([0-9a-f]+)"', page.text))
    assert len(found) == 1, page.text
    return str(found.pop())


def held(app: FastAPI) -> list[tuple[Any, ...]]:
    """Return every value held and every receipt: what a refused request leaves unchanged."""
    with app.state.sessionmaker() as s:
        values = [
            (v.subject_id, v.point, v.field, v.receipt_id, sorted(v.purposes), v.ciphertext)
            for v in s.scalars(select(PersonalValue).order_by(PersonalValue.id))
        ]
        return values + sorted((r.id,) for r in s.scalars(select(Receipt)))


def center_cases(app: FastAPI) -> list[Case]:
    with app.state.sessionmaker() as s:
        return [c for c in s.scalars(select(Case).order_by(Case.number)) if c.source == "center"]


def newsletter_reads_email(as_role: Callable[[str], Client], subject_id: str) -> bool:
    data = as_role("newsletter_service").read(subject_id, purpose=MARKETING)
    return "email" in data["values"]


# -- Signing in --------------------------------------------------------------------------------


def test_the_request_answers_the_same_for_a_known_and_an_unknown_address(
    client: TestClient, app: FastAPI, ada: str, deliver: Deliver
) -> None:
    known = client.post("/privacy/me/link", data={"email": "ada@example.com"})
    unknown = client.post("/privacy/me/link", data={"email": "nobody@example.com"})
    assert known.status_code == unknown.status_code == 200
    assert known.text == unknown.text and SENT in known.text
    assert known.headers["cache-control"] == "no-store"
    (mail,) = deliver()  # only the known address got a message
    assert mail.to == "ada@example.com" and "/privacy/me/signin/" in mail.text

    signed_out = client.get("/privacy/me")
    assert 'name="email"' in signed_out.text and 'for="email"' in signed_out.text
    bad = client.post("/privacy/me/link", data={"email": "not an address"})
    assert bad.status_code == 422 and "&#39;email&#39;" in bad.text
    assert 'aria-invalid="true"' in bad.text

    app.state.settings = app.state.settings.model_copy(update={"mail_transport": "none"})
    for email in ("ada@example.com", "nobody@example.com"):
        off = client.post("/privacy/me/link", data={"email": email})
        assert off.status_code == 503 and "unavailable" in off.text
    assert deliver() == []


def test_asking_again_and_again_mails_a_few_links_then_nothing_more(
    client: TestClient, ada: str, deliver: Deliver, frozen: Frozen
) -> None:
    answers = [client.post("/privacy/me/link", data={"email": "ada@example.com"}) for _ in range(6)]
    assert {a.text for a in answers} == {answers[0].text} and SENT in answers[0].text
    assert len(deliver()) == 3  # signin.MAX_PENDING usable links at once, then nothing
    # Once they expire, a request mails a link again.
    frozen.advance(minutes=16)
    client.post("/privacy/me/link", data={"email": "ada@example.com"})
    assert len(deliver()) == 1


def test_a_link_works_once_an_expired_one_is_410_and_a_forged_one_404(
    client: TestClient, ada: str, deliver: Deliver, frozen: Frozen
) -> None:
    link = link_for(client, deliver, "ada@example.com")
    # Opening the link (a mail scanner would) uses nothing: it shows one button.
    for _ in range(2):
        page = client.get(link)
        assert page.status_code == 200 and "Continue to your privacy center" in page.text
        assert page.headers["cache-control"] == "no-store"
    used = client.post(link, follow_redirects=False)
    assert used.status_code == 303 and used.headers["location"] == "/privacy/me"
    cookie = used.headers["set-cookie"]
    assert cookie.startswith("avowal_person=")
    for attribute in ("HttpOnly", "Path=/privacy/me", "SameSite=strict", "Max-Age=1800"):
        assert attribute.lower() in cookie.lower(), cookie
    assert "secure" not in cookie.lower()  # the test server's public URL is http
    assert "Ada Example" in client.get("/privacy/me").text

    again = client.post(link, follow_redirects=False)
    assert again.status_code == 410 and "used already" in again.text
    assert client.get(link).status_code == 410

    late = link_for(client, deliver, "ada@example.com")
    frozen.advance(minutes=15, seconds=1)
    assert client.get(late).status_code == 410
    assert client.post(late).status_code == 410

    forged = client.post("/privacy/me/signin/" + "A" * 43)
    assert forged.status_code == 404 and "not valid" in forged.text
    assert client.get("/privacy/me/signin/" + "A" * 43).status_code == 404


def test_signing_out_ends_the_session(client: TestClient, ada: str, deliver: Deliver) -> None:
    csrf = sign_in(client, deliver, "ada@example.com")
    token = client.cookies.get("avowal_person")
    out = client.post("/privacy/me/signout", data={"csrf": csrf})
    assert out.status_code == 200 and "signed out" in out.text
    assert 'avowal_person=""' in out.headers["set-cookie"]
    client.cookies.set("avowal_person", str(token), path="/privacy/me")  # a copy kept is dead
    assert 'name="email"' in client.get("/privacy/me").text
    assert client.get(f"/privacy/me/{ada}/export.json", follow_redirects=False).status_code == 303


# -- What the person sees ----------------------------------------------------------------------


def test_the_export_is_everything_held_decrypted_with_receipts_that_verify(
    client: TestClient, app: FastAPI, ada: str, backend: Client, deliver: Deliver
) -> None:
    sign_in(client, deliver, "ada@example.com")
    page = client.get("/privacy/me")
    for value in ("Ada Example", "+15550100", "ending in 4242", "Card payment processor"):
        assert value in page.text
    assert "to sign you in to your account" in page.text  # purposes by their names
    assert "Withdraw: to inform you of service updates" in page.text

    answer = client.get(f"/privacy/me/{ada}/export.json")
    assert answer.status_code == 200 and answer.headers["cache-control"] == "no-store"
    assert re.fullmatch(
        r'attachment; filename="ContactMonkey-data-\d{4}-\d{2}-\d{2}\.json"',
        answer.headers["content-disposition"],
    )
    exported = answer.json()
    assert exported["schema"] == "avowal-export/1" and exported["subject_id"] == ada
    points = {p["point"]: p for p in exported["points"]}
    assert list(points) == ["registration", "purchase"]
    for point, given in KEPT.items():
        notice = {f.name: f for f in backend.notice(point).fields}
        values = {v["field"]: v for v in points[point]["values"]}
        assert {name: v["value"] for name, v in values.items()} == given
        for name, v in values.items():
            assert v["kept_as"] == notice[name].storage
            assert sorted(p["key"] for p in v["purposes"]) == sorted(notice[name].purposes)
    key = signing.load_public_pem(client.get("/v1/receipts/key").json()["public_key_pem"])
    assert len(exported["receipts"]) == 2
    for r in exported["receipts"]:
        assert signing.verify(key, r["receipt"], r["signature"])

    readable = client.get(f"/privacy/me/{ada}/export.html")
    assert readable.status_code == 200 and "Ada Example" in readable.text
    assert "<form" not in readable.text and readable.headers["cache-control"] == "no-store"
    assert [(c.kind, c.status, c.account_ids) for c in center_cases(app)] == [
        ("access", "closed", ada),
        ("access", "closed", ada),
    ]


def test_a_person_asking_for_someone_elses_data_gets_404_and_nothing_changes(
    client: TestClient, app: FastAPI, ada: str, bob: str, deliver: Deliver
) -> None:
    csrf = sign_in(client, deliver, "ada@example.com")
    before = held(app)
    unknown = "00000000-0000-4000-8000-000000000000"
    answers = {}
    for sid in (bob, unknown):
        answers[sid] = [
            client.get(f"/privacy/me/{sid}/export.json"),
            client.get(f"/privacy/me/{sid}/export.html"),
            client.get(f"/privacy/me/{sid}/erase"),
            client.post(
                f"/privacy/me/{sid}/correct",
                data={"csrf": csrf, "point": "registration", "field": "name", "value": "X"},
            ),
            client.post(f"/privacy/me/{sid}/withdraw", data={"csrf": csrf, "purpose": MARKETING}),
            client.post(f"/privacy/me/{sid}/object", data={"csrf": csrf, "purpose": MARKETING}),
            client.post(f"/privacy/me/{sid}/erase", data={"csrf": csrf, "confirm": "erase"}),
        ]
    for theirs, nobodys in zip(answers[bob], answers[unknown], strict=True):
        assert theirs.status_code == nobodys.status_code == 404
        assert theirs.text == nobodys.text and "Bob" not in theirs.text
    assert held(app) == before and center_cases(app) == []
    assert "Bob Example" not in client.get("/privacy/me").text


# -- Actions -----------------------------------------------------------------------------------


def test_a_withdrawal_withholds_the_very_next_read_for_the_purpose(
    client: TestClient,
    app: FastAPI,
    ada: str,
    deliver: Deliver,
    as_role: Callable[[str], Client],
) -> None:
    csrf = sign_in(client, deliver, "ada@example.com")
    assert newsletter_reads_email(as_role, ada)
    done = client.post(
        f"/privacy/me/{ada}/withdraw",
        data={"csrf": csrf, "purpose": MARKETING},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/privacy/me?done=withdrawn"
    assert not newsletter_reads_email(as_role, ada)
    page = client.get(done.headers["location"])
    assert "Your withdrawal is recorded" in page.text and 'aria-live="polite"' in page.text
    assert "Withdraw: to inform you" not in page.text  # nothing left to withdraw
    (case,) = center_cases(app)
    assert (case.kind, case.closed_by, case.identity_method) == (
        "withdrawal",
        "the person",
        "signed in",
    )
    assert (case.outcome or "").startswith(MARKETING)

    # The service itself is not theirs to withdraw: a page with the reason, nothing written.
    before = held(app)
    refused = client.post(
        f"/privacy/me/{ada}/withdraw", data={"csrf": csrf, "purpose": AUTHENTICATION}
    )
    assert refused.status_code == 409 and "erased" in refused.text
    assert held(app) == before and len(center_cases(app)) == 1


def test_an_objection_is_recorded_via_the_center(
    client: TestClient, app: FastAPI, ada: str, deliver: Deliver
) -> None:
    csrf = sign_in(client, deliver, "ada@example.com")
    assert "Object to messages: to inform you" in client.get("/privacy/me").text
    done = client.post(
        f"/privacy/me/{ada}/object", data={"csrf": csrf, "purpose": MARKETING}
    )  # followed
    assert done.status_code == 200 and "Your objection is recorded" in done.text
    exported = client.get(f"/privacy/me/{ada}/export.json").json()
    assert [(o["purpose"]["key"], o["via"]) for o in exported["objections"]] == [
        (MARKETING, "center")
    ]
    refused = client.post(
        f"/privacy/me/{ada}/object", data={"csrf": csrf, "purpose": AUTHENTICATION}
    )
    assert refused.status_code == 409
    assert [c.kind for c in center_cases(app)] == ["objection", "access"]


def test_a_correction_destroys_the_old_value_and_issues_a_new_receipt(
    client: TestClient, app: FastAPI, settings: Settings, ada: str, deliver: Deliver
) -> None:
    csrf = sign_in(client, deliver, "ada@example.com")
    with app.state.sessionmaker() as s:
        old = s.scalars(
            select(PersonalValue).where(
                PersonalValue.subject_id == ada,
                PersonalValue.point == "registration",
                PersonalValue.field == "phone",
            )
        ).one()
        old_ciphertext, old_receipt = old.ciphertext, old.receipt_id
    assert old_ciphertext is not None and old_ciphertext in stored.everything(app, settings)

    before = held(app)
    bad = client.post(
        f"/privacy/me/{ada}/correct",
        data={"csrf": csrf, "point": "registration", "field": "phone", "value": "not a phone"},
    )
    assert bad.status_code == 422 and "phone" in bad.text
    assert held(app) == before

    done = client.post(
        f"/privacy/me/{ada}/correct",
        data={"csrf": csrf, "point": "registration", "field": "phone", "value": "+1 555-0199"},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == "/privacy/me?done=corrected"
    assert old_ciphertext not in stored.everything(app, settings)
    exported = client.get(f"/privacy/me/{ada}/export.json").json()
    phone = next(
        v
        for p in exported["points"]
        for v in p["values"]
        if (p["point"], v["field"])
        == (
            "registration",
            "phone",
        )
    )
    assert phone["value"] == "+15550199" and phone["receipt_id"] != old_receipt
    new = next(r for r in exported["receipts"] if r["receipt"]["receipt_id"] == phone["receipt_id"])
    assert new["receipt"]["basis"] == "correction"
    assert new["receipt"]["corrects_receipt_id"] == old_receipt
    case = center_cases(app)[0]
    assert (case.kind, case.outcome) == ("rectification", "phone at registration corrected")


def test_erasure_needs_the_typed_word_then_shreds_and_mails_the_confirmation(
    client: TestClient,
    app: FastAPI,
    settings: Settings,
    ada: str,
    deliver: Deliver,
    backend: Client,
) -> None:
    csrf = sign_in(client, deliver, "ada@example.com")
    page = client.get(f"/privacy/me/{ada}/erase")
    assert page.status_code == 200 and "cannot be undone" in page.text
    assert 'for="confirm"' in page.text
    before = held(app)
    for confirm in ("", "yes", "erase it"):
        refused = client.post(f"/privacy/me/{ada}/erase", data={"csrf": csrf, "confirm": confirm})
        assert refused.status_code == 422 and "&#39;confirm&#39;" in refused.text
    assert held(app) == before and deliver() == []

    done = client.post(f"/privacy/me/{ada}/erase", data={"csrf": csrf, "confirm": "Erase"})
    assert done.status_code == 200 and "Your account is erased" in done.text
    assert 'avowal_person=""' in done.headers["set-cookie"]
    raw = stored.everything(app, settings)
    for value in ("Ada Example", "ada@example.com", "+15550100"):
        assert value.encode() not in raw
    assert 'name="email"' in client.get("/privacy/me").text  # the session is gone with her
    (mail,) = deliver()  # to the address she gave last (at the purchase)
    assert (mail.to, mail.subject) == (PURCHASE["email"], "Your account has been erased")
    assert [(c.kind, c.account_ids) for c in center_cases(app)] == [("erasure", ada)]


def test_a_form_without_its_csrf_token_or_from_another_site_is_403(
    client: TestClient, app: FastAPI, ada: str, deliver: Deliver, as_role: Callable[[str], Client]
) -> None:
    csrf = sign_in(client, deliver, "ada@example.com")
    before = held(app)
    for data in ({"purpose": MARKETING}, {"purpose": MARKETING, "csrf": "0" * 64}):
        refused = client.post(f"/privacy/me/{ada}/withdraw", data=data)
        assert refused.status_code == 403 and "security token" in refused.text
    cross = client.post(
        f"/privacy/me/{ada}/withdraw",
        data={"csrf": csrf, "purpose": MARKETING},
        headers={"Origin": "https://attacker.example.com"},
    )
    assert cross.status_code == 403
    erase = client.post(f"/privacy/me/{ada}/erase", data={"confirm": "erase"})
    assert erase.status_code == 403
    assert held(app) == before and center_cases(app) == []
    assert newsletter_reads_email(as_role, ada)


def test_odd_input_is_a_page_never_a_500(
    client: TestClient, app: FastAPI, ada: str, deliver: Deliver
) -> None:
    client.cookies.set("avowal_person", "x" * 500, path="/privacy/me")
    assert 'name="email"' in client.get("/privacy/me").text  # a garbage cookie signs in no one
    client.cookies.clear()
    for email in ("ada\x00@example.com", "a" * 5000 + "@example.com", ""):
        assert client.post("/privacy/me/link", data={"email": email}).status_code == 422
    for token in ("x" * 500, "%00", "é"):
        assert client.get(f"/privacy/me/signin/{token}").status_code == 404
    csrf = sign_in(client, deliver, "ada@example.com")
    before = held(app)
    odd = [
        ("correct", {"point": "registration", "field": "name", "value": "Ada\x00"}, 400),
        ("correct", {"point": "registration", "field": "name", "value": "A" * 3000}, 422),
        ("correct", {"point": "nowhere\x00", "field": "name", "value": "Ada"}, 404),
        ("correct", {"point": "registration", "field": "birth_date", "value": "1990-01-01"}, 409),
        ("withdraw", {"purpose": "no.such\x00purpose"}, 400),
        ("object", {"purpose": ""}, 400),
        ("object", {"purpose": AUTHENTICATION}, 409),
    ]
    for action, data, status in odd:
        answer = client.post(f"/privacy/me/{ada}/{action}", data={"csrf": csrf, **data})
        assert answer.status_code == status, (action, data, answer.text)
        assert "Back to your privacy center" in answer.text
    assert held(app) == before and center_cases(app) == []


def test_the_cookie_is_secure_when_the_public_url_is_https(
    client: TestClient, app: FastAPI, ada: str, deliver: Deliver
) -> None:
    link = link_for(client, deliver, "ada@example.com")
    public = "https://privacy.example.com"
    app.state.settings = app.state.settings.model_copy(update={"public_url": public})
    used = client.post(link, follow_redirects=False)
    assert used.status_code == 303
    assert "; secure" in used.headers["set-cookie"].lower()
    # A sign-in form posted from another origin than the public URL's is refused first.
    refused = client.post(link, headers={"Origin": "http://testserver"})
    assert refused.status_code == 403

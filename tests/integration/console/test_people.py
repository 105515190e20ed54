"""Finding a person in the console and seeing only what the chosen purpose allows, audited."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import update

from avowal.children import lock as parental
from avowal.children.models import ParentalConsent
from avowal.client import Client
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.console.conftest import Browser, audit_entries, options

SUPPORT = "essential.service.operations.support"
PAYMENT = "essential.service.payment_processing"
PHONE = "+15550100"  # REGISTRATION's phone as stored
ASKED = dt.datetime(2026, 3, 2, 9, 30, tzinfo=dt.UTC)


def test_support_finds_ada_by_email_among_only_the_purposes_its_role_grants(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    page = grace.get("/console/people")
    assert page.status_code == 200
    assert page.headers["cache-control"] == "no-store"
    # The role's purposes, then those the policy declares beneath them: never marketing.
    assert options(page.text, "purpose") == [SUPPORT, "essential.service.authentication"]
    found = grace.get("/console/people", params={"q": "ADA@example.com ", "purpose": SUPPORT})
    assert found.status_code == 200
    sid = registered["subject_id"]
    assert "1 match" in found.text
    assert f'href="/console/people/{sid}?purpose={SUPPORT}"' in found.text
    # Who was found: the address and name, read for the purpose and audited; nothing else.
    assert "Ada Example" in found.text and PHONE not in found.text
    lookups = audit_entries(app, action="lookup", actor="grace@example.com")
    assert [(e.subject_id, e.purpose, e.decision) for e in lookups] == [(sid, SUPPORT, "allow")]
    reads = audit_entries(app, action="read", actor="grace@example.com")
    assert [(e.subject_id, e.purpose, e.fields) for e in reads] == [
        (sid, SUPPORT, '["email", "name"]')
    ]


def test_the_person_page_shows_the_purposes_values_and_lists_the_rest_as_withheld(
    app: FastAPI,
    backend: Client,
    registered: dict[str, Any],
    staff_browser: Callable[..., Browser],
) -> None:
    sid = registered["subject_id"]
    backend.disclose(
        sid,
        recipient="payment_processor",
        fields=["card"],
        purpose="essential.service.payment_processing",
    )
    grace = staff_browser("grace@example.com", "support")
    page = grace.get(f"/console/people/{sid}", params={"purpose": SUPPORT})
    assert page.status_code == 200, page.text
    assert page.headers["cache-control"] == "no-store"
    text = page.text
    for value in ("Ada Example", "ada@example.com", PHONE, "1990-04-01"):
        assert value in text
    # Collected at purchase for payment only: withheld, with the reason, never the value.
    assert PURCHASE["email"] not in text and "…4242" not in text
    withheld = text.split('id="withheld-heading"', 1)[1].split("</section>", 1)[0]
    assert "Card number" in withheld and "not collected for this purpose" in withheld
    assert "essential.service.payment_processing" in withheld
    # Receipts (ids, points, notices) and the disclosure register, no values.
    for receipt in (registered["registration"]["receipt"], registered["purchase"]["receipt"]):
        assert receipt["receipt_id"][:8] in text
        assert receipt["notice_id"][:12] in text
    # The register, read for the same purpose: the payment disclosure is not support's work.
    register = text.split('id="disclosures-heading"', 1)[1].split("</section>", 1)[0]
    assert "payment_processor" not in register and "Disclosures (0)" in text
    reads = audit_entries(app, actor="grace@example.com", subject_id=sid)
    assert [(e.action, e.purpose, e.decision) for e in reads] == [
        ("read", SUPPORT, "allow"),
        ("register", SUPPORT, "allow"),
    ]
    assert reads[0].fields == '["address", "birth_date", "email", "name", "phone"]'
    billing = staff_browser("bill@example.com", "billing")
    paid = billing.get(f"/console/people/{sid}", params={"purpose": PAYMENT})
    register = paid.text.split('id="disclosures-heading"', 1)[1].split("</section>", 1)[0]
    assert "payment_processor" in register and "card" in register


def test_a_purpose_the_role_does_not_grant_is_refused_and_the_refusal_audited(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    sid = registered["subject_id"]
    grace = staff_browser("grace@example.com", "support")
    marketing = "marketing.communications.email"
    page = grace.get(f"/console/people/{sid}", params={"purpose": marketing})
    assert page.status_code == 403
    assert "does not grant the purpose &#39;marketing.communications.email&#39;" in page.text
    assert "ada@example.com" not in page.text
    search = grace.get("/console/people", params={"q": "ada@example.com", "purpose": marketing})
    assert search.status_code == 403 and sid not in search.text
    denied = audit_entries(app, actor="grace@example.com", decision="deny")
    assert [(e.action, e.purpose) for e in denied] == [("read", marketing), ("lookup", marketing)]


def test_marketing_sees_only_the_address_given_for_its_purpose(
    registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    sid = registered["subject_id"]
    mia = staff_browser("mia@example.com", "marketing")
    page = mia.get(f"/console/people/{sid}")
    assert page.status_code == 200
    assert 'value="marketing.communications.email" selected' in page.text
    assert "ada@example.com" in page.text
    for value in ("Ada Example", PHONE, "1990-04-01", PURCHASE["email"]):
        assert value not in page.text


def test_a_subject_id_opens_the_person_and_unknown_or_erased_people_are_said_so(
    registered: dict[str, Any], backend: Client, staff_browser: Callable[..., Browser]
) -> None:
    sid = registered["subject_id"]
    grace = staff_browser("grace@example.com", "support")
    jump = grace.get("/console/people", params={"q": sid.upper(), "purpose": SUPPORT})
    assert jump.status_code == 303
    assert jump.headers["location"] == f"/console/people/{sid}?purpose={SUPPORT}"
    nobody = grace.get("/console/people", params={"q": "nobody@example.com"})
    assert nobody.status_code == 200 and "0 matches" in nobody.text
    bad = grace.get("/console/people", params={"q": "not an address@"})
    assert bad.status_code == 422 and "not a valid email" in bad.text
    missing = grace.get("/console/people/00000000-0000-4000-8000-000000000000")
    assert missing.status_code == 404 and "no subject" in missing.text
    unknown = grace.get(f"/console/people/{sid}", params={"purpose": "no.such.use"})
    assert unknown.status_code == 400 and "not a data use" in unknown.text
    backend.erase(sid)
    gone = grace.get(f"/console/people/{sid}")
    assert gone.status_code == 410 and "was erased" in gone.text


def test_engineering_reads_nothing_collected_for_its_purposes(
    registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    erin = staff_browser("erin@example.com", "engineering")
    page = erin.get(f"/console/people/{registered['subject_id']}")
    assert page.status_code == 200
    assert "Nothing was collected for this purpose." in page.text
    assert "Ada Example" not in page.text and PHONE not in page.text


def test_people_pages_need_an_acknowledged_agreement_and_a_session(
    client: Any, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    anonymous = client.get("/console/people", follow_redirects=False)
    assert (anonymous.status_code, anonymous.headers["location"]) == (303, "/console/login")
    newcomer = staff_browser("nina@example.com", "support", acknowledge=False)
    page = newcomer.get(f"/console/people/{registered['subject_id']}")
    assert (page.status_code, page.headers["location"]) == (303, "/console/acknowledge")


def lock(app: FastAPI, subject_id: str) -> ParentalConsent:
    """Insert a pending parental consent request for a person, as collection leaves it."""
    row = ParentalConsent(
        id=str(uuid.uuid4()),
        subject_id=subject_id,
        point="registration",
        status="pending",
        parent_address=b"sealed under the child's key",
        parent_notice_id="n" * 64,
        refused_purposes=[],
        requested_at=ASKED,
        expires_at=ASKED + dt.timedelta(days=14),
    )
    with app.state.sessionmaker() as session, session.begin():
        session.add(row)
    return row


def test_a_locked_minor_shows_as_locked_with_why_and_no_value(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    sid = registered["subject_id"]
    row = lock(app, sid)
    grace = staff_browser("grace@example.com", "support")
    page = grace.get(f"/console/people/{sid}", params={"purpose": SUPPORT})
    assert page.status_code == 200, page.text
    text = page.text
    # At the top, before the values: a status region with its own heading.
    notice = text.split('<section class="banner" role="status"', 1)[1].split("</section>", 1)[0]
    assert text.index('id="locked-heading"') < text.index('id="values-heading"')
    assert '<h2 id="locked-heading">Locked: a minor awaiting parental consent</h2>' in notice
    assert f"Why: {parental.why_locked(row)}." in notice
    assert "2026-03-16T09:30:00Z" in notice  # why_locked names the parent's deadline
    assert '<span class="status status-pending">pending</span>' in notice
    assert (
        '<dt>Expires</dt><dd><time datetime="2026-03-16T09:30:00+00:00">2026-03-16 09:30 UTC</time>'
        in notice
    )
    assert "Usable from" not in notice
    # Every value withheld, with the lock's reason; none shown anywhere on the page.
    for value in (*REGISTRATION.values(), PHONE, *PURCHASE.values(), "…4242"):
        assert value not in text
    assert "Nothing was collected for this purpose." in text
    withheld = text.split('id="withheld-heading"', 1)[1].split("</section>", 1)[0]
    assert withheld.count("parental consent pending") == len(REGISTRATION) + len(PURCHASE)

    # Once the parent consented, the confirmation's time shows; still locked.
    with app.state.sessionmaker() as session, session.begin():
        session.execute(
            update(ParentalConsent)
            .where(ParentalConsent.id == row.id)
            .values(status="confirming", confirm_at=ASKED + dt.timedelta(days=1))
        )
    confirming = grace.get(f"/console/people/{sid}", params={"purpose": SUPPORT}).text
    assert "Locked: a minor awaiting parental consent" in confirming
    assert '<span class="status status-pending">confirming</span>' in confirming
    assert 'Usable from</dt><dd><time datetime="2026-03-03T09:30:00+00:00">' in confirming
    assert "<dt>Expires</dt>" not in confirming and "Ada Example" not in confirming

    # Confirmed: no notice, the values are back.
    with app.state.sessionmaker() as session, session.begin():
        session.execute(
            update(ParentalConsent).where(ParentalConsent.id == row.id).values(status="consented")
        )
    unlocked = grace.get(f"/console/people/{sid}", params={"purpose": SUPPORT}).text
    assert "Locked: a minor" not in unlocked and "Ada Example" in unlocked


def test_a_refused_read_does_not_say_that_a_person_is_a_locked_minor(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    sid = registered["subject_id"]
    lock(app, sid)
    grace = staff_browser("grace@example.com", "support")
    page = grace.get(f"/console/people/{sid}", params={"purpose": "marketing.communications.email"})
    assert page.status_code == 403
    assert "Locked" not in page.text and "parental" not in page.text

"""Cases (issue 12, point 3): questions and requests from the contact form and the site's API,
handled in the console over a real SMTP server on loopback.

A message becomes a case of its own contact subject, due a calendar month later and
acknowledged by mail; bad input stores nothing. The sender proves they control the address by
a single-use link, which joins the case to the accounts holding it. Support answers; only the
privacy officer carries out a request on an account. One extension of up to two months with a
reason; overdue cases in the review and the metrics; closed cases archived after a year.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml
from fastapi import FastAPI
from fastapi.testclient import TestClient
from pydantic import SecretStr
from sqlalchemy import func, select

from avowal.audit.models import AuditEntry
from avowal.client import Client
from avowal.mail import worker
from avowal.policy.loader import load_file
from avowal.rights import cases
from avowal.rights.models import Case
from avowal.settings import Settings
from avowal.vault.models import Subject
from tests import serving
from tests.conftest import REPO_ROOT
from tests.factories import PURCHASE, REGISTRATION
from tests.integration.console import conftest as console_fixtures
from tests.integration.console.conftest import Browser
from tests.integration.rights.conftest import Mail
from tests.integration.staff.conftest import Clock

# The console's fixtures: signed-in staff members, each in a browser of their own, and the
# staff clock (the one clock of avowal, frozen; the tests move it).
browsers = console_fixtures.browsers
staff_browser = console_fixtures.staff_browser
clock = console_fixtures.clock
light_hashing = console_fixtures.light_hashing
make_member = console_fixtures.make_member
sign_in = console_fixtures.sign_in
csrf_of = console_fixtures.csrf_of

Deliver = Callable[[], list[Mail]]
Staff = Callable[..., Browser]
ADA = REGISTRATION["email"]
OFFICER = "olivia@example.com"
SUPPORT_MEMBER = "sam@example.com"


# -- Helpers -----------------------------------------------------------------------------------


def notice_id(client: TestClient) -> str:
    page = client.get("/privacy/contact")
    assert page.status_code == 200, page.text
    found = re.search(r'name="notice_id" value="([0-9a-f]{64})"', page.text)
    assert found is not None
    return found.group(1)


def write(
    client: TestClient, kind: str, email: str = ADA, message: str = "Please erase my account."
) -> Any:
    return client.post(
        "/privacy/contact",
        data={"kind": kind, "email": email, "message": message, "notice_id": notice_id(client)},
    )


def all_cases(app: FastAPI) -> list[Case]:
    with app.state.sessionmaker() as s:
        return list(s.scalars(select(Case).order_by(Case.number)))


def subjects(app: FastAPI) -> int:
    with app.state.sessionmaker() as s:
        return int(s.scalar(select(func.count()).select_from(Subject)) or 0)


def subject(app: FastAPI, subject_id: str) -> Subject:
    with app.state.sessionmaker() as s:
        found = s.get(Subject, subject_id)
        assert found is not None
        return found


@pytest.fixture
def backend(as_role: Callable[[str], Client]) -> Client:
    return as_role("web_backend")


@pytest.fixture
def ada(backend: Client) -> str:
    sid = backend.collect("registration", REGISTRATION, ref="ada").subject_id
    backend.collect("purchase", PURCHASE, ref="ada")
    return str(sid)


def api_case(client: TestClient, tokens: dict[str, str], **body: Any) -> Any:
    if "notice_id" not in body:
        body["notice_id"] = client.get("/v1/notices/contact").json()["notice_id"]
    payload = {"kind": "question", "email": ADA, "message": "What do you keep about me?", **body}
    headers = {"Authorization": f"Bearer {tokens['web_backend']}"}
    return client.post("/v1/cases", json=payload, headers=headers)


# -- Due dates ---------------------------------------------------------------------------------


def test_a_month_later_is_the_same_day_clamped_to_the_end_of_the_month() -> None:
    at = dt.datetime(2027, 1, 31, 9, 30, tzinfo=dt.UTC)
    assert cases.add_months(at, 1) == dt.datetime(2027, 2, 28, 9, 30, tzinfo=dt.UTC)
    assert cases.add_months(at.replace(year=2028), 1).date() == dt.date(2028, 2, 29)
    assert cases.add_months(at, 2).date() == dt.date(2027, 3, 31)
    assert cases.add_months(dt.datetime(2027, 12, 15, tzinfo=dt.UTC), 1).date() == dt.date(
        2028, 1, 15
    )


# -- The contact form --------------------------------------------------------------------------


def test_the_contact_form_opens_a_case_due_a_month_later_and_acknowledges_it(
    client: TestClient, app: FastAPI, deliver: Deliver, clock: Clock
) -> None:
    clock.now = dt.datetime(2027, 1, 31, 9, 30, tzinfo=dt.UTC)
    form = client.get("/privacy/contact")
    # The contact point's notice: what is kept, why, how long.
    assert "Your e-mail address" in form.text and "Your question" in form.text
    assert "to answer your questions and help you use the product" in form.text
    assert "365 days after we close your request" in form.text

    done = write(client, "erasure")
    assert done.status_code == 200, done.text
    assert done.headers["cache-control"] == "no-store"
    (row,) = all_cases(app)
    assert (row.kind, row.source, row.status, row.number) == ("erasure", "contact", "open", 1)
    assert cases.due(row).date() == dt.date(2027, 2, 28)
    assert row.identity_checked_at is None and cases.accounts(row) == []
    assert "reference" in done.text and "<strong>1</strong>" in done.text
    assert "28 February 2027" in done.text
    contact = subject(app, str(row.subject_id))
    assert contact.ref == f"case:{row.id}"

    (mail,) = deliver()
    assert mail.to == ADA and mail.subject == "We received your request (reference 1)"
    assert "2027-02-28" in mail.text

    # A second message from the same address is a case of its own, with a subject of its own.
    write(client, "question", message="And how long do you keep it?")
    first, second = all_cases(app)
    assert second.number == 2 and second.subject_id != first.subject_id


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ({"email": "not an address"}, "this is not an e-mail address"),
        ({"email": ""}, "give the address we answer you at"),
        ({"message": "   "}, "write your question or your request"),
        ({"kind": "complaint"}, "choose what you are writing about"),
        ({"notice_id": "0" * 64}, "not the current notice"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_stores_nothing(
    client: TestClient, app: FastAPI, form: dict[str, str], named: str
) -> None:
    data = {
        "kind": "question",
        "email": ADA,
        "message": "Hello",
        "notice_id": notice_id(client),
        **form,
    }
    before = subjects(app)
    answer = client.post("/privacy/contact", data=data)
    assert answer.status_code == 422, answer.text
    assert named in answer.text and 'role="alert"' in answer.text
    assert subjects(app) == before and all_cases(app) == []


def test_a_policy_without_a_contact_point_has_no_contact_form(
    client: TestClient, app: FastAPI, tokens: dict[str, str], tmp_path: Path
) -> None:
    document = yaml.safe_load((REPO_ROOT / "examples/contactmonkey-2017/policy.yaml").read_text())
    del document["collection_points"]["contact"]
    changed = tmp_path / "policy.yaml"
    changed.write_text(yaml.safe_dump(document, sort_keys=False))
    serving.enforce(app, load_file(changed))

    assert client.get("/privacy/contact").status_code == 404
    sent = client.post(
        "/privacy/contact",
        data={"kind": "question", "email": ADA, "message": "Hi", "notice_id": "0" * 64},
    )
    assert sent.status_code == 404 and "support@contactmonkey.com" in sent.text
    refused = api_case(client, tokens, notice_id="0" * 64)
    assert refused.status_code == 404 and refused.json()["error"] == "contact_unavailable"
    assert all_cases(app) == []


# -- The API -----------------------------------------------------------------------------------


def test_the_site_opens_cases_with_and_without_its_signed_in_user(
    client: TestClient, app: FastAPI, tokens: dict[str, str], ada: str, deliver: Deliver
) -> None:
    anonymous = api_case(client, tokens)
    assert anonymous.status_code == 201, anonymous.text
    body = anonymous.json()
    assert body["number"] == 1 and body["identity_checked"] is False
    assert body["status"] == "open"

    vouched = api_case(client, tokens, kind="access", subject={"ref": "ada"})
    assert vouched.status_code == 201, vouched.text
    assert vouched.json()["identity_checked"] is True
    row = all_cases(app)[1]
    assert cases.accounts(row) == [ada] and row.identity_method == "vouched for by web_backend"
    assert row.source == "api" and row.subject_id != ada

    headers = {"Authorization": f"Bearer {tokens['web_backend']}"}
    state = client.get(f"/v1/cases/{body['id']}", headers=headers)
    assert state.status_code == 200
    seen = state.json()
    assert (seen["status"], seen["extended"], seen["overdue"]) == ("open", False, False)
    assert seen["due"] == body["due"] and "email" not in seen and "message" not in seen
    assert len(deliver()) == 2  # both acknowledged

    unknown = api_case(client, tokens, subject={"ref": "nobody"})
    assert unknown.status_code == 404
    newsletter = {"Authorization": f"Bearer {tokens['newsletter_service']}"}
    assert client.get(f"/v1/cases/{body['id']}", headers=newsletter).status_code == 403
    assert client.get(f"/v1/cases/{body['id']}").status_code == 401
    missing = "00000000-0000-4000-8000-000000000000"
    assert client.get(f"/v1/cases/{missing}", headers=headers).status_code == 404
    assert len(all_cases(app)) == 2


# -- Extending -------------------------------------------------------------------------------


def test_a_case_is_extended_once_by_at_most_two_months_with_a_reason(
    client: TestClient, app: FastAPI, staff_browser: Staff, deliver: Deliver
) -> None:
    write(client, "access")
    (row,) = all_cases(app)
    deliver()
    sam = staff_browser(SUPPORT_MEMBER, role="support")
    url = f"/console/cases/{row.id}/extend"
    too_long = sam.post(url, {"months": "3", "reason": "Records are archived off site."})
    assert too_long.status_code == 422 and "1 or 2 months" in too_long.text
    no_reason = sam.post(url, {"months": "1", "reason": "  "})
    assert no_reason.status_code == 422 and "needs its reason" in no_reason.text
    assert cases.due(all_cases(app)[0]) == cases.due(row)

    ok = sam.post(url, {"months": "2", "reason": "Records are archived off site."})
    assert ok.status_code == 200, ok.text
    extended = all_cases(app)[0]
    assert cases.due(extended) == cases.add_months(cases.due(row), 2)
    assert extended.extension_reason == "Records are archived off site."
    again = sam.post(url, {"months": "1", "reason": "Still more."})
    assert again.status_code == 422 and "extended already" in again.text

    (mail,) = deliver()
    assert mail.to == ADA and "Records are archived off site." in mail.text
    assert cases.due(extended).date().isoformat() in mail.text


# -- Overdue -----------------------------------------------------------------------------------


def test_overdue_cases_are_in_the_review_and_the_metrics(
    client: TestClient, app: FastAPI, staff_browser: Staff, clock: Clock
) -> None:
    write(client, "question")
    app.state.settings = app.state.settings.model_copy(
        update={"metrics_token": SecretStr("metrics-secret")}
    )
    scrape = {"Authorization": "Bearer metrics-secret"}
    metrics = client.get("/metrics", headers=scrape).text
    assert "avowal_cases_open 1" in metrics and "avowal_cases_overdue 0" in metrics

    clock.advance(days=32)
    metrics = client.get("/metrics", headers=scrape).text
    assert "avowal_cases_open 1" in metrics and "avowal_cases_overdue 1" in metrics
    olivia = staff_browser(OFFICER, role="privacy_officer")
    review = olivia.get("/console/review.json")
    assert review.status_code == 200, review.text
    found = review.json()["cases"]
    assert (found["open"], found["overdue"], found["closed"], found["archived"]) == (1, 1, 0, 0)
    (late,) = found["overdue_cases"]
    assert late["number"] == 1 and late["kind"] == "question" and late["days_late"] >= 1
    assert any("past their due date" in n and "1 (due" in n for n in review.json()["notes"])
    queue = olivia.get("/console/cases")
    assert queue.status_code == 200 and "overdue" in queue.text


# -- The identity check and carrying out -----------------------------------------------------


def _identity_link(sam: Browser, row: Case, deliver: Deliver) -> str:
    sent = sam.post(f"/console/cases/{row.id}/identity")
    assert sent.status_code == 200, sent.text
    (mail,) = deliver()
    assert (
        mail.to == ADA and mail.subject == f"Please confirm your request (reference {row.number})"
    )
    return mail.link("/privacy/cases/confirm/")


def test_the_identity_link_works_once_and_joins_the_accounts_holding_the_address(
    client: TestClient, app: FastAPI, ada: str, staff_browser: Staff, deliver: Deliver
) -> None:
    write(client, "question", message="An earlier question.")
    write(client, "erasure")
    deliver()
    earlier, row = all_cases(app)
    sam = staff_browser(SUPPORT_MEMBER, role="support")
    page = sam.get(f"/console/cases/{row.id}")
    assert page.status_code == 200 and "Please erase my account." in page.text and ADA in page.text
    reads = [
        e
        for e in audit_of(app, "read")
        if e.subject_id == row.subject_id and e.actor == SUPPORT_MEMBER
    ]
    assert reads and reads[0].purpose == "essential.service.operations.support"

    link = _identity_link(sam, row, deliver)
    shown = client.get(link)
    assert shown.status_code == 200 and "Confirm my request" in shown.text
    assert all_cases(app)[1].identity_checked_at is None  # showing it uses nothing
    confirmed = client.post(link)
    assert confirmed.status_code == 200, confirmed.text
    checked = all_cases(app)[1]
    assert checked.identity_method == "controls the address"
    # Ada's account, not the subjects holding the messages she wrote.
    assert cases.accounts(checked) == [ada]
    assert client.post(link).status_code == 410
    assert client.get(link).status_code == 410
    assert client.get("/privacy/cases/confirm/forged-token").status_code == 404
    assert earlier.identity_checked_at is None

    again = sam.post(f"/console/cases/{row.id}/identity")
    assert again.status_code == 409 and "known already" in again.text


def audit_of(app: FastAPI, action: str) -> list[AuditEntry]:
    with app.state.sessionmaker() as s:
        return list(s.scalars(select(AuditEntry).where(AuditEntry.action == action)))


def test_support_cannot_erase_while_the_privacy_officer_can_then_answers_and_closes(
    client: TestClient, app: FastAPI, ada: str, staff_browser: Staff, deliver: Deliver
) -> None:
    write(client, "erasure")
    deliver()
    (row,) = all_cases(app)
    sam = staff_browser(SUPPORT_MEMBER, role="support")
    early = sam.post(f"/console/cases/{row.id}/act", {"action": "erasure"})
    assert early.status_code == 409 and "identity check first" in early.text
    client.post(_identity_link(sam, row, deliver))

    refused = sam.post(f"/console/cases/{row.id}/act", {"action": "erasure"})
    assert refused.status_code == 403 and "may not act on a person" in refused.text
    assert subject(app, ada).erased_at is None
    denied = [e for e in audit_of(app, "case_erasure") if e.decision == "deny"]
    assert [e.actor for e in denied] == [SUPPORT_MEMBER]

    olivia = staff_browser(OFFICER, role="privacy_officer")
    assert "Carry out: erase my account" in olivia.get(f"/console/cases/{row.id}").text
    other = olivia.post(f"/console/cases/{row.id}/act", {"action": "access"})
    assert other.status_code == 409 and "only what the person asked for" in other.text
    erased = olivia.post(f"/console/cases/{row.id}/act", {"action": "erasure"})
    assert erased.status_code == 200, erased.text
    assert subject(app, ada).erased_at is not None
    assert [e.actor for e in audit_of(app, "erase")] == [OFFICER]
    assert subject(app, str(row.subject_id)).erased_at is None  # the answer still goes out

    answered = olivia.post(
        f"/console/cases/{row.id}/answer",
        {"text": "Your account is erased.", "outcome": "carried out"},
    )
    assert answered.status_code == 200, answered.text
    closed = all_cases(app)[0]
    assert (closed.status, closed.outcome, closed.closed_by) == ("closed", "carried out", OFFICER)
    sent = {m.subject: m for m in deliver()}
    answer = sent["Our answer (reference 1)"]
    assert answer.to == ADA and "Your account is erased." in answer.text
    history = olivia.get(f"/console/cases/{row.id}").text
    assert "identity check sent" in history and "1 account(s) erased" in history
    again = olivia.post(
        f"/console/cases/{row.id}/answer", {"text": "Again.", "outcome": "answered"}
    )
    assert again.status_code == 409


def test_support_answers_a_question_and_a_made_up_outcome_is_refused(
    client: TestClient, app: FastAPI, staff_browser: Staff, deliver: Deliver
) -> None:
    write(client, "question", message="Do you sell my data?")
    deliver()
    (row,) = all_cases(app)
    sam = staff_browser(SUPPORT_MEMBER, role="support")
    url = f"/console/cases/{row.id}/answer"
    odd = sam.post(url, {"text": "No.", "outcome": "told Ada no"})
    assert odd.status_code == 409 and all_cases(app)[0].status == "open"
    assert deliver() == []
    ok = sam.post(url, {"text": "We never sell it.", "outcome": "answered"})
    assert ok.status_code == 200, ok.text
    assert all_cases(app)[0].status == "closed"
    (mail,) = deliver()
    assert "We never sell it." in mail.text


def test_a_role_that_handles_no_cases_is_refused_the_queue(
    client: TestClient, staff_browser: Staff
) -> None:
    billing = staff_browser("bill@example.com", role="billing")
    assert billing.get("/console/cases").status_code == 403


# -- Archiving ---------------------------------------------------------------------------------


def test_archiving_shreds_the_contact_subject_of_cases_closed_over_a_year_ago_only(
    client: TestClient, app: FastAPI, settings: Settings, ada: str, clock: Clock
) -> None:
    for message in ("Old question.", "Recent question.", "Open question."):
        write(client, "question", message=message)
    old, recent, still_open = all_cases(app)
    with app.state.sessionmaker() as s, s.begin():
        for row, days_ago in ((old, 400), (recent, 30)):
            fresh = cases.get(s, row.id)
            cases.close(
                s,
                fresh,
                actor=OFFICER,
                role="privacy_officer",
                outcome="answered",
                now=clock.now - dt.timedelta(days=days_ago),
            )
    state = app.state
    worker.run_pass(state.sessionmaker, settings, state.secrets, state.policies.current())

    archived, kept, open_ = all_cases(app)
    assert archived.archived_at is not None and archived.outcome == "answered"
    assert subject(app, str(old.subject_id)).erased_at is not None
    assert kept.archived_at is None and subject(app, str(recent.subject_id)).erased_at is None
    assert open_.archived_at is None and subject(app, str(still_open.subject_id)).erased_at is None
    assert subject(app, ada).erased_at is None
    shredded = [e for e in audit_of(app, "erase") if e.reason == "case archived"]
    assert [e.subject_id for e in shredded] == [old.subject_id]
    with app.state.sessionmaker() as s:
        assert cases.archive(s, state.policies.current()) == 0  # nothing twice
        assert cases.counts(s).archived == 1


# -- The other requests ------------------------------------------------------------------------


def _checked(client: TestClient, app: FastAPI, kind: str, sam: Browser, deliver: Deliver) -> Case:
    write(client, kind, message=f"A {kind} request.")
    deliver()
    row = all_cases(app)[-1]
    client.post(_identity_link(sam, row, deliver))
    return row


def test_access_objection_withdrawal_and_rectification_are_carried_out_on_the_accounts(
    client: TestClient,
    app: FastAPI,
    ada: str,
    staff_browser: Staff,
    deliver: Deliver,
    as_role: Callable[[str], Client],
) -> None:
    sam = staff_browser(SUPPORT_MEMBER, role="support")
    olivia = staff_browser(OFFICER, role="privacy_officer")

    access = _checked(client, app, "access", sam, deliver)
    done = olivia.post(f"/console/cases/{access.id}/act", {"action": "access"})
    assert done.status_code == 200, done.text
    (mail,) = deliver()
    assert (mail.to, mail.subject) == (ADA, "Your link to your privacy center")
    assert "/privacy/me/signin/" in mail.text

    objection = _checked(client, app, "objection", sam, deliver)
    marketing = "marketing.communications.email"
    page = olivia.get(f"/console/cases/{objection.id}").text
    assert f'value="{marketing}"' in page
    done = olivia.post(
        f"/console/cases/{objection.id}/act", {"action": "objection", "purpose": marketing}
    )
    assert done.status_code == 200, done.text
    withheld = as_role("newsletter_service").read(ada, purpose=marketing)
    assert "email" not in withheld["values"]

    withdrawal = _checked(client, app, "withdrawal", sam, deliver)
    refused = olivia.post(
        f"/console/cases/{withdrawal.id}/act",
        {"action": "withdrawal", "purpose": "essential.service.authentication"},
    )
    assert refused.status_code == 409 and "erased" in refused.text
    done = olivia.post(
        f"/console/cases/{withdrawal.id}/act", {"action": "withdrawal", "purpose": marketing}
    )
    assert done.status_code == 200, done.text

    rectification = _checked(client, app, "rectification", sam, deliver)
    done = olivia.post(
        f"/console/cases/{rectification.id}/act",
        {
            "action": "rectification",
            "point": "registration",
            "field": "name",
            "value": "Ada Lovelace Example",
        },
    )
    assert done.status_code == 200, done.text
    read = as_role("web_backend").read(ada, purpose="essential.service.authentication")
    assert read["values"]["name"]["value"] == "Ada Lovelace Example"
    actors = {e.action: e.actor for e in audit_of(app, "correct") + audit_of(app, "withdraw")}
    assert actors == {"correct": OFFICER, "withdraw": OFFICER}

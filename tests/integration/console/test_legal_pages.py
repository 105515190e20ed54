"""Legal requests in the console: registered by one privacy officer, decided by another, exported
once as a download, listed by state; other roles are refused."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import func, select

from avowal.legal import service as legal
from avowal.legal.models import LegalRequest
from avowal.legal.schemas import LegalRequestCreate
from avowal.staff.models import StaffAccount
from tests.integration.console.conftest import Browser, audit_entries
from tests.integration.legal.helpers import run

TOMORROW = (dt.datetime.now(dt.UTC).date() + dt.timedelta(days=1)).isoformat()


def form(subject_id: str, **change: Any) -> dict[str, Any]:
    return {
        "authority": "Springfield Police",
        "reference": "SPD-2024-117",
        "legal_basis": "Production order of the Springfield court, case 117",
        "recipient": "authorities",
        "subject_ids": subject_id,
        "fields": ["email", "phone"],
        "deadline": TOMORROW,
        "notify": "now",
        **change,
    }


def request_ids(app: FastAPI) -> list[str]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(LegalRequest.id)))


@pytest.fixture
def officers(staff_browser: Callable[..., Browser]) -> tuple[Browser, Browser]:
    """Olivia and Oscar, privacy officers, signed in."""
    return (
        staff_browser("olivia@example.com", "privacy_officer"),
        staff_browser("oscar@example.com", "privacy_officer"),
    )


def test_four_eyes_register_approve_and_export_once(
    app: FastAPI, registered: dict[str, Any], officers: tuple[Browser, Browser]
) -> None:
    olivia, oscar = officers
    sid = registered["subject_id"]
    assert olivia.get("/console/legal/new").status_code == 200
    made = olivia.post("/console/legal/new", form(sid))
    assert made.status_code == 303, made.text
    (rid,) = request_ids(app)
    assert made.headers["location"] == f"/console/legal/{rid}"

    own = olivia.get(f"/console/legal/{rid}")
    assert own.status_code == 200 and "pending" in own.text
    assert "a second privacy officer must approve or reject it" in own.text
    assert f"/console/legal/{rid}/approve" not in own.text
    refused = olivia.post(f"/console/legal/{rid}/approve")
    assert refused.status_code == 403
    assert "a second privacy officer must decide on a legal request" in refused.text
    denied = audit_entries(app, action="legal_approve", decision="deny")
    assert [e.actor for e in denied] == ["olivia@example.com"]

    seen = oscar.get(f"/console/legal/{rid}")
    assert f'action="/console/legal/{rid}/approve"' in seen.text
    approved = oscar.post(f"/console/legal/{rid}/approve")
    assert (approved.status_code, approved.headers["location"]) == (303, f"/console/legal/{rid}")
    page = olivia.get(f"/console/legal/{rid}")
    assert "approved" in page.text and "Export and download" in page.text

    bundle = olivia.post(f"/console/legal/{rid}/export")
    assert bundle.status_code == 200, bundle.text
    assert bundle.headers["content-type"] == "application/json"
    assert bundle.headers["content-disposition"] == (
        f'attachment; filename="legal-export-{rid}.json"'
    )
    assert bundle.headers["cache-control"] == "no-store"
    data = json.loads(bundle.content)
    assert data["request"]["approved_by"] == "oscar@example.com"
    values = data["subjects"][0]["values"]
    assert [v["value"] for v in values["phone"]] == ["+15550100"]
    assert sorted(v["value"] for v in values["email"]) == [
        "ada.billing@example.com",
        "ada@example.com",
    ]
    digest = hashlib.sha256(bundle.content).hexdigest()

    again = oscar.post(f"/console/legal/{rid}/export")
    assert again.status_code == 409 and "exported exactly once" in again.text
    done = oscar.get(f"/console/legal/{rid}")
    assert "exported" in done.text and digest in done.text
    assert "Export and download" not in done.text


def test_reject_with_a_reason_and_the_list_by_state(
    app: FastAPI, registered: dict[str, Any], officers: tuple[Browser, Browser]
) -> None:
    olivia, oscar = officers
    sid = registered["subject_id"]
    olivia.post("/console/legal/new", form(sid, reference="REF-A"))
    olivia.post("/console/legal/new", form(sid, reference="REF-B", notify="never"))
    ids = {}
    with app.state.sessionmaker() as session:
        for row in session.scalars(select(LegalRequest)):
            ids[row.reference] = row.id
        requester = session.scalar(
            select(StaffAccount).where(StaffAccount.email == "olivia@example.com")
        )
    assert requester is not None
    # A request registered ten days ago whose deadline passed five days ago.
    past = dt.datetime.now(dt.UTC) - dt.timedelta(days=10)
    late = LegalRequestCreate(
        authority="Shelbyville Court",
        reference="REF-LATE",
        legal_basis="Order 9",
        recipient="authorities",
        subject_ids=[sid],
        fields=["email"],
        deadline=(past + dt.timedelta(days=5)).date(),
        may_notify=True,
    )
    run(
        app,
        lambda s: legal.create_request(s, app.state.policies.current(), requester, late, now=past),
    )

    rejected = oscar.post(f"/console/legal/{ids['REF-B']}/reject", {"reason": "Order not signed"})
    assert rejected.status_code == 303
    entry = audit_entries(app, action="legal_reject")[0]
    assert entry.reason is not None and entry.reason.endswith("rejected: Order not signed")

    def listed(status: str = "") -> list[str]:
        page = olivia.get("/console/legal", params={"status": status} if status else None)
        assert page.status_code == 200
        return re.findall(r'<a href="/console/legal/[0-9a-f-]{36}">([^<]+)</a>', page.text)

    assert sorted(listed()) == ["REF-A", "REF-B", "REF-LATE"]
    assert sorted(listed("pending")) == ["REF-A", "REF-LATE"]
    assert listed("rejected") == ["REF-B"]
    assert listed("overdue") == ["REF-LATE"]
    assert listed("exported") == []
    assert "1 request is past its deadline" in olivia.get("/console/legal").text


def test_a_form_that_is_not_valid_registers_nothing_and_says_why(
    app: FastAPI, registered: dict[str, Any], officers: tuple[Browser, Browser]
) -> None:
    olivia, _ = officers
    sid = registered["subject_id"]
    cases = [
        (form(sid, deadline=""), 422, "Deadline: Input should be a valid date"),
        (form(sid, fields=[]), 422, "a legal request names at least one field"),
        (form(sid, recipient="payment_processor"), 422, "is a processor, not an authority"),
        (form("00000000-0000-4000-8000-000000000000"), 404, "no subject"),
        (form(sid, notify="later"), 422, "give the day from which the people may be told"),
        (form(sid, deadline="2001-01-01"), 422, "is in the past"),
    ]
    for data, status, message in cases:
        page = olivia.post("/console/legal/new", data)
        assert page.status_code == status, (data, page.text)
        assert message in page.text
        # The form comes back as typed.
        assert 'value="Springfield Police"' in page.text
    assert request_ids(app) == []
    no_token = olivia.http.post("/console/legal/new", data=form(sid), follow_redirects=False)
    assert no_token.status_code == 403 and request_ids(app) == []


def test_other_roles_see_no_legal_page_and_their_attempts_are_audited(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    for url in ("/console/legal", "/console/legal/new"):
        page = grace.get(url)
        assert page.status_code == 403
        assert "only a privacy officer handles legal requests" in page.text
    tried = grace.post("/console/legal/new", form(registered["subject_id"]))
    assert tried.status_code == 403 and "Springfield" not in tried.text
    assert request_ids(app) == []
    denied = audit_entries(app, action="legal_request", decision="deny")
    assert [e.actor for e in denied] == ["grace@example.com"]
    with app.state.sessionmaker() as session:
        assert session.scalar(select(func.count()).select_from(LegalRequest)) == 0

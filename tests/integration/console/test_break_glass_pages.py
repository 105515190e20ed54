"""Break-glass in the console: justified and time-boxed, any purpose while it runs, a banner on
every page it affects, every access flagged; ended by its holder or a privacy officer."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from avowal.legal import break_glass as bg
from avowal.legal.models import BreakGlass
from avowal.policy.loader import parse_text
from tests.factories import policy_text
from tests.integration.console.conftest import Browser, audit_entries, options
from tests.serving import enforce

WHY = "Payments stuck since 09:00; checking the billing data of ticket OPS-118"
BANNER = "Break-glass active — everything you see is flagged"
MARKETING = "marketing.communications.email"


def grants(app: FastAPI) -> list[BreakGlass]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(BreakGlass).order_by(BreakGlass.started_at)))


def test_a_grant_opens_any_purpose_with_a_banner_and_flags_every_access(
    app: FastAPI, registered: dict[str, Any], staff_browser: Callable[..., Browser]
) -> None:
    sid = registered["subject_id"]
    erin = staff_browser("erin@example.com", "engineering")
    page = erin.get("/console/break-glass")
    assert page.status_code == 200 and "Break the glass" in page.text
    # Refused as asked: nothing starts, the form keeps what was typed.
    short = erin.post("/console/break-glass/start", {"justification": "urgent", "minutes": "30"})
    assert short.status_code == 422 and "at least 20 characters" in short.text
    too_long = erin.post("/console/break-glass/start", {"justification": WHY, "minutes": "999"})
    assert too_long.status_code == 422 and "1 to 240 minutes" in too_long.text
    assert WHY in too_long.text and grants(app) == []
    # Without the grant, engineering may not read for marketing.
    before = erin.get(f"/console/people/{sid}", params={"purpose": MARKETING})
    assert before.status_code == 403 and BANNER not in before.text

    started = erin.post("/console/break-glass/start", {"justification": WHY, "minutes": "15"})
    assert (started.status_code, started.headers["location"]) == (303, "/console/break-glass")
    (grant,) = grants(app)
    shown = erin.get("/console/break-glass")
    assert BANNER in shown.text and "15 minutes left" in shown.text
    assert f'action="/console/break-glass/{grant.id}/end"' in shown.text

    search = erin.get("/console/people")
    assert BANNER in search.text
    assert MARKETING in options(search.text, "purpose")
    person = erin.get(f"/console/people/{sid}", params={"purpose": MARKETING})
    assert person.status_code == 200
    assert BANNER in person.text and "ada@example.com" in person.text
    flagged = [e for e in audit_entries(app) if e.actor.endswith(bg.marker(grant.id))]
    assert [(e.action, e.purpose) for e in flagged] == [
        ("break_glass_start", None),
        ("read", MARKETING),
        ("register", MARKETING),  # the register is read for a purpose too
    ]

    ended = erin.post(f"/console/break-glass/{grant.id}/end")
    assert ended.status_code == 303
    assert grants(app)[0].ended_at is not None
    after = erin.get(f"/console/people/{sid}", params={"purpose": MARKETING})
    assert after.status_code == 403 and BANNER not in after.text
    history = erin.get("/console/break-glass").text
    assert "Break the glass" in history and re.search(r"status-ended\">ended<", history)
    again = erin.post(f"/console/break-glass/{grant.id}/end")
    assert again.status_code == 403 and "already over" in again.text


def test_a_privacy_officer_sees_and_ends_other_peoples_grants_others_may_not(
    app: FastAPI, staff_browser: Callable[..., Browser]
) -> None:
    erin = staff_browser("erin@example.com", "engineering")
    grace = staff_browser("grace@example.com", "support")
    olivia = staff_browser("olivia@example.com", "privacy_officer")
    erin.post("/console/break-glass/start", {"justification": WHY, "minutes": "30"})
    (grant,) = grants(app)
    assert "erin@example.com" not in grace.get("/console/break-glass").text
    refused = grace.post(f"/console/break-glass/{grant.id}/end")
    assert refused.status_code == 422 and "only the holder of a grant or a privacy officer" in (
        refused.text
    )
    assert grants(app)[0].ended_at is None
    page = olivia.get("/console/break-glass")
    assert "erin@example.com" in page.text and WHY in page.text
    assert olivia.post(f"/console/break-glass/{grant.id}/end").status_code == 303
    assert grants(app)[0].ended_at is not None
    (entry,) = audit_entries(app, action="break_glass_end")
    assert entry.reason == f"ended by olivia@example.com: {WHY}"


def test_break_glass_needs_the_agreement_and_a_form_token(
    app: FastAPI, staff_browser: Callable[..., Browser]
) -> None:
    newcomer = staff_browser("nina@example.com", "support", acknowledge=False)
    page = newcomer.get("/console/break-glass")
    assert (page.status_code, page.headers["location"]) == (303, "/console/acknowledge")
    erin = staff_browser("erin@example.com", "engineering")
    forged = erin.http.post(
        "/console/break-glass/start",
        data={"justification": WHY, "minutes": "30"},
        follow_redirects=False,
    )
    assert forged.status_code == 403 and grants(app) == []


def test_a_role_the_policy_does_not_name_is_told_why_and_refused_403_audited(
    app: FastAPI, staff_browser: Callable[..., Browser]
) -> None:
    grace = staff_browser("grace@example.com", "support")
    page = grace.get("/console/break-glass")
    assert page.status_code == 200 and "Break the glass" not in page.text
    assert "lets only" in page.text and "engineering" in page.text
    forged = grace.post("/console/break-glass/start", {"justification": WHY, "minutes": "30"})
    assert forged.status_code == 403 and "staff.break_glass.roles" in forged.text
    assert grants(app) == []
    [entry] = audit_entries(app, action="break_glass_start")
    assert (entry.actor, entry.decision) == ("grace@example.com", "deny")


def test_the_privacy_officer_sees_a_new_grant_at_once_on_the_home_page(
    app: FastAPI, staff_browser: Callable[..., Browser]
) -> None:
    olivia = staff_browser("olivia@example.com", "privacy_officer")
    assert "you are told of every grant" not in olivia.get("/console").text
    erin = staff_browser("erin@example.com", "engineering")
    assert "privacy officer is" in erin.get("/console/break-glass").text  # erin is told so
    erin.post("/console/break-glass/start", {"justification": WHY, "minutes": "30"})
    home = olivia.get("/console").text
    assert "you are told of every grant" in home
    assert "erin@example.com" in home and WHY in home
    grace = staff_browser("grace@example.com", "support")
    assert "erin@example.com" not in grace.get("/console").text
    [notice] = audit_entries(app, action="break_glass_notify")
    assert (notice.reason or "").startswith("to privacy_officer: erin@example.com")


def test_with_approval_required_a_privacy_officer_approves_in_the_console(
    app: FastAPI, staff_browser: Callable[..., Browser]
) -> None:
    def approval(d: dict[str, Any]) -> None:
        d["staff"]["break_glass"].update(approval_required=True, approvers=["privacy_officer"])

    enforce(app, parse_text(policy_text(approval)))
    erin = staff_browser("erin@example.com", "engineering")
    olivia = staff_browser("olivia@example.com", "privacy_officer")
    asked = erin.post("/console/break-glass/start", {"justification": WHY, "minutes": "20"})
    assert asked.status_code == 303
    (grant,) = grants(app)
    waiting = erin.get("/console/break-glass").text
    assert "Waiting for approval" in waiting and BANNER not in waiting
    assert BANNER not in erin.get("/console/people").text
    self_approved = erin.post(f"/console/break-glass/{grant.id}/approve")
    assert self_approved.status_code == 403 and grants(app)[0].approved_at is None
    page = olivia.get("/console/break-glass").text
    assert f'action="/console/break-glass/{grant.id}/approve"' in page
    assert olivia.post(f"/console/break-glass/{grant.id}/approve").status_code == 303
    assert grants(app)[0].approved_by is not None
    opened = erin.get("/console/break-glass").text
    assert BANNER in opened and "20 minutes left" in opened

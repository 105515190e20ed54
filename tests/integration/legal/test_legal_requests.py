"""Legal requests: four eyes, a single recorded export, and the notices each person is owed."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.client import Client
from avowal.legal import export as legal_export
from avowal.legal import service as legal
from avowal.legal.exceptions import (
    FourEyesRequired,
    InvalidLegalRequest,
    LegalRequestState,
    NotPrivacyOfficer,
    RecipientNotAuthority,
)
from avowal.legal.models import LegalRequest, SubjectNotice
from avowal.legal.schemas import LegalRequestCreate
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy, parse_text
from avowal.policy.taxonomy import LEGAL_OBLIGATION
from avowal.vault.exceptions import SubjectErased, SubjectNotFound
from avowal.vault.models import Disclosure
from tests.factories import REGISTRATION, policy_text
from tests.integration.legal.conftest import Staff
from tests.integration.legal.helpers import NOW, edge, run

TODAY = NOW.date()


def body(subject_id: str, **changes: Any) -> LegalRequestCreate:
    data: dict[str, Any] = {
        "authority": "Springfield Police Department",
        "reference": "SPD-2026-0042",
        "legal_basis": "Production order under section 487.014 of the Criminal Code",
        "recipient": "authorities",
        "subject_ids": [subject_id],
        "fields": ["name", "email", "birth_date", "card"],
        "deadline": TODAY + dt.timedelta(days=14),
        "may_notify": True,
    }
    data.update(changes)
    return LegalRequestCreate(**data)


def variant(change: Callable[[dict[str, Any]], None]) -> LoadedPolicy:
    return parse_text(policy_text(change))


def entries(app: FastAPI, **where: Any) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        stmt = select(AuditEntry).filter_by(**where).order_by(AuditEntry.seq)
        return list(session.scalars(stmt))


def pending(app: FastAPI, staff: Staff, subject_id: str, **changes: Any) -> LegalRequest:
    loaded = app.state.policies.current()
    return run(
        app, lambda s: legal.create_request(s, loaded, staff.officer, body(subject_id, **changes))
    )


def approved(app: FastAPI, staff: Staff, subject_id: str, **changes: Any) -> LegalRequest:
    req = pending(app, staff, subject_id, **changes)
    return run(app, lambda s: legal.approve(s, app.state.policies.current(), staff.second, req.id))


def test_an_approved_request_is_exported_once_whatever_the_purposes_of_collection(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    loaded, secrets = app.state.policies.current(), app.state.secrets
    req = approved(app, staff, sid)
    assert req.status == "approved"
    result = run(app, lambda s: legal_export.export(s, loaded, secrets, staff.officer, req.id))

    subject = result.bundle["subjects"][0]
    values = {f: sorted(v["value"] for v in held) for f, held in subject["values"].items()}
    # Collected for service and payment purposes, yet all disclosed: the legal-obligation path.
    assert values == {
        "birth_date": ["1990-04-01"],
        "card": ["4242"],
        "email": ["ada.billing@example.com", "ada@example.com"],
        "name": ["Ada Example", "Ada Example"],
    }
    assert subject["not_held"] == []
    assert result.bundle["request"]["approved_by"] == "oscar@example.com"
    assert result.bundle["request"]["requested_by"] == "olivia@example.com"
    assert result.sha256 == hashlib.sha256(result.content).hexdigest()
    assert json.loads(result.content) == result.bundle

    with app.state.sessionmaker() as session:
        row = session.get(LegalRequest, req.id)
        assert row is not None
        assert (row.status, row.export_sha256) == ("exported", result.sha256)
        assert row.exported_at is not None
        disclosures = list(session.scalars(select(Disclosure)))
    assert len(disclosures) == 1
    d = disclosures[0]
    assert (d.subject_id, d.recipient, d.purpose) == (sid, "authorities", LEGAL_OBLIGATION)
    assert d.fields == ["birth_date", "card", "email", "name"]
    assert sorted(d.receipt_ids) == sorted(
        [
            registered["registration"]["receipt"]["receipt_id"],
            registered["purchase"]["receipt"]["receipt_id"],
        ]
    )
    [logged] = entries(app, action="legal_export", decision="allow")
    assert (logged.actor, logged.subject_id, logged.purpose) == (
        "olivia@example.com",
        sid,
        LEGAL_OBLIGATION,
    )
    assert req.id in (logged.reason or "")

    with pytest.raises(LegalRequestState, match="exported already"):
        run(app, lambda s: legal_export.export(s, loaded, secrets, staff.second, req.id))
    assert len(entries(app, action="legal_export")) == 1


def test_the_disclosure_register_shows_the_legal_disclosure(
    app: FastAPI, staff: Staff, registered: dict[str, Any], as_staff: Callable[[str], Any]
) -> None:
    sid = registered["subject_id"]
    req = approved(app, staff, sid, fields=["email"])
    run(
        app,
        lambda s: legal_export.export(
            s, app.state.policies.current(), app.state.secrets, staff.second, req.id
        ),
    )
    register = as_staff("privacy_officer").disclosures(sid, purpose=LEGAL_OBLIGATION)
    assert [(r["recipient"], r["purpose"], r["fields"], r["actor"]) for r in register] == [
        ("authorities", "essential.legal_obligation", ["email"], "oscar@example.com")
    ]


def test_the_requester_can_neither_approve_nor_reject_their_own_request(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    loaded = app.state.policies.current()
    req = pending(app, staff, registered["subject_id"])
    with pytest.raises(FourEyesRequired, match="never the one who registered it"):
        run(app, lambda s: legal.approve(s, loaded, staff.officer, req.id))
    with pytest.raises(FourEyesRequired):
        run(app, lambda s: legal.reject(s, loaded, staff.officer, req.id, "changed my mind"))
    refusals = entries(app, decision="deny")
    assert [(e.actor, e.action) for e in refusals] == [
        ("olivia@example.com", "legal_approve"),
        ("olivia@example.com", "legal_reject"),
    ]
    with app.state.sessionmaker() as session:
        assert session.get(LegalRequest, req.id).status == "pending"  # type: ignore[union-attr]

    decided = run(app, lambda s: legal.approve(s, loaded, staff.second, req.id))
    assert decided.decided_by == staff.second.id
    with pytest.raises(LegalRequestState, match="approved, not pending"):
        run(app, lambda s: legal.reject(s, loaded, staff.second, req.id))


def test_a_policy_without_four_eyes_lets_the_requester_decide(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    def no_four_eyes(d: dict[str, Any]) -> None:
        d["legal_disclosures"]["four_eyes"] = False

    loaded = variant(no_four_eyes)
    req = run(
        app,
        lambda s: legal.create_request(s, loaded, staff.officer, body(registered["subject_id"])),
    )
    decided = run(app, lambda s: legal.approve(s, loaded, staff.officer, req.id))
    assert decided.status == "approved"
    [logged] = entries(app, action="legal_approve")
    assert "by its own requester" in (logged.reason or "")


def test_only_a_privacy_officer_registers_or_decides(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    loaded = app.state.policies.current()
    sid = registered["subject_id"]
    with pytest.raises(NotPrivacyOfficer, match="role 'support' does not grant"):
        run(app, lambda s: legal.create_request(s, loaded, staff.support, body(sid)))
    req = pending(app, staff, sid)
    with pytest.raises(NotPrivacyOfficer):
        run(app, lambda s: legal.approve(s, loaded, staff.engineer, req.id))
    with pytest.raises(NotPrivacyOfficer):
        run(
            app,
            lambda s: legal_export.export(s, loaded, app.state.secrets, staff.support, req.id),
        )
    assert [(e.actor, e.action) for e in entries(app, decision="deny")] == [
        ("sam@example.com", "legal_request"),
        ("erin@example.com", "legal_approve"),
        ("sam@example.com", "legal_export"),
    ]


def test_nothing_is_exported_before_approval_or_after_rejection(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    loaded, secrets = app.state.policies.current(), app.state.secrets
    req = pending(app, staff, registered["subject_id"])
    with pytest.raises(LegalRequestState, match="is pending: only an approved request"):
        run(app, lambda s: legal_export.export(s, loaded, secrets, staff.second, req.id))
    run(app, lambda s: legal.reject(s, loaded, staff.second, req.id, "no valid order attached"))
    with pytest.raises(LegalRequestState, match="is rejected"):
        run(app, lambda s: legal_export.export(s, loaded, secrets, staff.second, req.id))
    with app.state.sessionmaker() as session:
        assert session.scalars(select(Disclosure)).all() == []
    assert entries(app, action="legal_export") == []
    [logged] = entries(app, action="legal_reject")
    assert "no valid order attached" in (logged.reason or "")


@pytest.mark.parametrize(
    ("recipient", "message"),
    [
        ("payment_processor", "'payment_processor' is a processor, not an authority"),
        ("police", "'police' is not a recipient declared in the policy"),
    ],
)
def test_a_request_goes_only_to_an_authority_the_policy_names(
    app: FastAPI, staff: Staff, registered: dict[str, Any], recipient: str, message: str
) -> None:
    with pytest.raises(RecipientNotAuthority, match=message) as info:
        pending(app, staff, registered["subject_id"], recipient=recipient)
    assert info.value.details["authorities"] == ["authorities"]
    with app.state.sessionmaker() as session:
        assert session.scalars(select(LegalRequest)).all() == []


def test_erased_or_unknown_people_are_refused(
    app: FastAPI, staff: Staff, registered: dict[str, Any], backend: Client
) -> None:
    other = backend.collect("registration", REGISTRATION, ref="user-2")["subject_id"]
    backend.erase(other)
    with pytest.raises(SubjectErased, match=other):
        pending(app, staff, registered["subject_id"], subject_ids=[registered["subject_id"], other])
    with pytest.raises(SubjectNotFound):
        pending(app, staff, "00000000-0000-4000-8000-000000000000")


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"deadline": TODAY - dt.timedelta(days=1)}, "deadline .* is in the past"),
        (
            {"confidential_until": TODAY + dt.timedelta(days=5)},
            "confidential_until applies only when",
        ),
        (
            {"may_notify": False, "confidential_until": TODAY - dt.timedelta(days=1)},
            "confidential_until .* is in the past",
        ),
        ({"fields": ["email", "fax"]}, "field fax is not collected"),
        ({"fields": []}, "at least one field"),
    ],
)
def test_a_malformed_request_is_refused_naming_the_rule(
    app: FastAPI, staff: Staff, registered: dict[str, Any], changes: dict[str, Any], message: str
) -> None:
    with pytest.raises(InvalidLegalRequest, match=message):
        pending(app, staff, registered["subject_id"], **changes)


def test_a_policy_reserving_no_legal_disclosure_refuses_every_request(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    def no_grounds(d: dict[str, Any]) -> None:
        d["legal_disclosures"]["grounds"] = []
        d["staff"]["break_glass"]["roles"] = []  # break-glass needs grounds (policy check)

    loaded = variant(no_grounds)
    with pytest.raises(InvalidLegalRequest, match="reserves no right to legal disclosure"):
        run(
            app,
            lambda s: legal.create_request(
                s, loaded, staff.officer, body(registered["subject_id"])
            ),
        )


def test_people_are_told_now_from_a_date_or_never_as_the_authority_ordered(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    loaded, secrets = app.state.policies.current(), app.state.secrets
    until = TODAY + dt.timedelta(days=30)
    told_now = approved(app, staff, sid)
    told_later = approved(app, staff, sid, may_notify=False, confidential_until=until)
    never = approved(app, staff, sid, may_notify=False)
    at = NOW + dt.timedelta(minutes=5)
    for req in (told_now, told_later, never):
        run(app, lambda s, r=req: legal_export.export(s, loaded, secrets, staff.officer, r.id, at))

    with app.state.sessionmaker() as session:
        notices = {n.id: n for n in session.scalars(select(SubjectNotice))}
    assert len(notices) == 2
    first = notices[legal_export.notice_id(told_now.id, sid)]
    second = notices[legal_export.notice_id(told_later.id, sid)]
    assert clock.aware(first.due_at) == at
    assert clock.aware(second.due_at) == dt.datetime.combine(until, dt.time(0), dt.UTC)
    assert first.kind == "legal_disclosure" and first.sent_at is None
    assert "Springfield Police Department" in first.message
    assert "SPD-2026-0042" in first.message

    with app.state.sessionmaker() as session:
        assert legal.get_request(session, never.id).never_notify is True
        assert legal.get_request(session, told_later.id).never_notify is False
        due = legal.due_notices(session, at)
        later = legal.due_notices(session, dt.datetime.combine(until, dt.time(0), dt.UTC))
    assert [n.id for n in due] == [first.id]
    assert {n.id for n in later} == {first.id, second.id}


def test_a_person_erased_after_approval_is_left_out_of_the_export(
    app: FastAPI, staff: Staff, registered: dict[str, Any], backend: Client
) -> None:
    sid = registered["subject_id"]
    req = approved(app, staff, sid)
    backend.erase(sid)
    result = run(
        app,
        lambda s: legal_export.export(
            s, app.state.policies.current(), app.state.secrets, staff.second, req.id
        ),
    )
    assert result.bundle["subjects"] == [{"subject_id": sid, "erased": True}]
    with app.state.sessionmaker() as session:
        assert session.scalars(select(Disclosure)).all() == []
        assert session.scalars(select(SubjectNotice)).all() == []


def test_requests_past_their_deadline_are_listed_as_overdue(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    loaded = app.state.policies.current()
    past = NOW - dt.timedelta(days=10)
    late = run(
        app,
        lambda s: legal.create_request(
            s,
            loaded,
            staff.officer,
            body(sid, deadline=(past + dt.timedelta(days=5)).date()),
            past,
        ),
    )
    on_time = pending(app, staff, sid)
    rejected = run(
        app,
        lambda s: legal.create_request(
            s, loaded, staff.officer, body(sid, deadline=past.date()), past
        ),
    )
    run(app, lambda s: legal.reject(s, loaded, staff.second, rejected.id))
    with edge(app) as session:
        overdue = legal.overdue_requests(session)
        everything = legal.list_requests(session)
        waiting = legal.list_requests(session, status="pending")
    assert [r.id for r in overdue] == [late.id]
    assert overdue[0].overdue and overdue[0].requested_by == "olivia@example.com"
    assert {r.id for r in everything} == {late.id, on_time.id, rejected.id}
    assert {r.id for r in waiting} == {late.id, on_time.id}
    assert next(r for r in everything if r.id == rejected.id).decided_by == "oscar@example.com"

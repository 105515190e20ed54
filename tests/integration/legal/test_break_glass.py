"""Break-glass: any purpose while the grant runs, refused after, every step audited and flagged."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.callers.exceptions import PurposeNotGranted
from avowal.legal import break_glass as bg
from avowal.legal.exceptions import (
    AccountInactive,
    BreakGlassExpired,
    BreakGlassNotAllowed,
    BreakGlassRefused,
)
from avowal.legal.models import BreakGlass
from avowal.lib import clock
from avowal.policy.exceptions import PolicyInvalid
from avowal.policy.loader import parse_text
from avowal.settings import Settings
from avowal.staff import service as staff_service
from avowal.staff.models import StaffAccount
from avowal.vault import access
from tests.factories import policy_text
from tests.integration.legal.conftest import Staff
from tests.integration.legal.helpers import NOW, add_account, edge, run

WHY = "Payments stuck since 09:00; checking the billing data of ticket OPS-118"


def started(
    app: FastAPI, settings: Settings, account: StaffAccount, minutes: int = 30
) -> BreakGlass:
    return run(app, lambda s: bg.start(s, app.state.policies.current(), account, WHY, minutes, NOW))


def read_under(
    app: FastAPI, account: StaffAccount, grant_id: str, subject_id: str, purpose: str, **kw: Any
) -> dict[str, Any]:
    loaded, secrets = app.state.policies.current(), app.state.secrets

    def action(s: Any) -> dict[str, Any]:
        caller = bg.caller_for_break_glass(s, loaded, account, bg.get_grant(s, grant_id), **kw)
        return access.read(s, loaded, secrets, caller, subject_id, purpose)

    return run(app, action)


def flagged(app: FastAPI, grant_id: str) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        stmt = (
            select(AuditEntry)
            .where(AuditEntry.actor.endswith(bg.marker(grant_id), autoescape=True))
            .order_by(AuditEntry.seq)
        )
        return list(session.scalars(stmt))


def test_a_grant_reads_for_any_purpose_and_flags_every_entry(
    app: FastAPI, settings: Settings, staff: Staff, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    loaded, secrets = app.state.policies.current(), app.state.secrets
    # Without break-glass, engineering may not read for payments.
    with pytest.raises(PurposeNotGranted):
        run(
            app,
            lambda s: access.read(
                s,
                loaded,
                secrets,
                staff_service.caller(loaded, staff.engineer),
                sid,
                "essential.service.payment_processing",
            ),
        )
    grant = started(app, settings, staff.engineer)
    assert clock.aware(grant.expires_at) == NOW + dt.timedelta(minutes=30)
    paid = read_under(
        app, staff.engineer, grant.id, sid, "essential.service.payment_processing", now=NOW
    )
    assert paid["values"]["card"]["value"] == "4242"
    news = read_under(app, staff.engineer, grant.id, sid, "marketing.communications.email", now=NOW)
    # Break-glass lifts the role's limits, not each value's binding to its notice.
    assert set(news["values"]) == {"email"}

    entries = flagged(app, grant.id)
    assert [e.action for e in entries] == ["break_glass_start", "read", "read"]
    assert {e.actor for e in entries} == {f"erin@example.com [break-glass {grant.id}]"}
    assert {e.role for e in entries} == {"engineering"}
    assert entries[0].reason == WHY
    assert [e.purpose for e in entries[1:]] == [
        "essential.service.payment_processing",
        "marketing.communications.email",
    ]


def test_a_grant_is_refused_after_it_expires(
    app: FastAPI, settings: Settings, staff: Staff, registered: dict[str, Any]
) -> None:
    sid = registered["subject_id"]
    grant = started(app, settings, staff.engineer, minutes=5)
    end = clock.aware(grant.expires_at)
    last = read_under(
        app,
        staff.engineer,
        grant.id,
        sid,
        "essential.service.authentication",
        now=end - dt.timedelta(seconds=1),
    )
    assert "name" in last["values"]
    with pytest.raises(BreakGlassExpired, match="is over since"):
        read_under(app, staff.engineer, grant.id, sid, "essential.service.authentication", now=end)
    actions = [(e.action, e.decision) for e in flagged(app, grant.id)]
    assert actions == [
        ("break_glass_start", "allow"),
        ("read", "allow"),
        ("break_glass_use", "deny"),
    ]
    with app.state.sessionmaker() as session:
        assert bg.active_grant(session, staff.engineer, end) is None
        [shown] = bg.list_grants(session, end)
    assert (shown.state, shown.account) == ("expired", "erin@example.com")


def test_an_ended_grant_is_refused_and_cannot_end_twice(
    app: FastAPI, settings: Settings, staff: Staff, registered: dict[str, Any]
) -> None:
    loaded = app.state.policies.current()
    grant = started(app, settings, staff.engineer)
    later = NOW + dt.timedelta(minutes=1)
    ended = run(app, lambda s: bg.end(s, loaded, staff.engineer, grant.id, later))
    assert clock.aware(ended.ended_at) == later  # type: ignore[arg-type]
    with pytest.raises(BreakGlassExpired):
        read_under(
            app,
            staff.engineer,
            grant.id,
            registered["subject_id"],
            "essential.service.authentication",
            now=later,
        )
    with pytest.raises(BreakGlassExpired, match="already over"):
        run(app, lambda s: bg.end(s, loaded, staff.engineer, grant.id, later))
    assert [e.action for e in flagged(app, grant.id)] == [
        "break_glass_start",
        "break_glass_end",
        "break_glass_use",
    ]


def test_a_grant_serves_only_its_holder(
    app: FastAPI, settings: Settings, staff: Staff, registered: dict[str, Any]
) -> None:
    grant = started(app, settings, staff.engineer)
    with pytest.raises(BreakGlassExpired, match="belongs to another account"):
        read_under(
            app,
            staff.support,
            grant.id,
            registered["subject_id"],
            "essential.service.authentication",
            now=NOW,
        )
    with pytest.raises(BreakGlassRefused, match="only the holder"):
        run(app, lambda s: bg.end(s, app.state.policies.current(), staff.support, grant.id, NOW))
    # A privacy officer may close someone else's grant.
    run(app, lambda s: bg.end(s, app.state.policies.current(), staff.officer, grant.id, NOW))
    [end] = [e for e in flagged(app, grant.id) if e.action == "break_glass_end"]
    assert (end.reason or "").startswith("ended by olivia@example.com")


@pytest.mark.parametrize(
    ("justification", "minutes", "message"),
    [
        ("it is urgent", 30, "at least 20 characters"),
        (WHY, 241, "lasts 1 to 240 minutes, not 241"),
        (WHY, 0, "lasts 1 to 240 minutes, not 0"),
    ],
)
def test_a_grant_needs_a_justification_and_a_time_limit(
    app: FastAPI, settings: Settings, staff: Staff, justification: str, minutes: int, message: str
) -> None:
    with pytest.raises(BreakGlassRefused, match=message):
        run(
            app,
            lambda s: bg.start(
                s, app.state.policies.current(), staff.engineer, justification, minutes
            ),
        )
    with app.state.sessionmaker() as session:
        assert session.scalars(select(BreakGlass)).all() == []


def test_one_grant_at_a_time_for_active_accounts_of_a_policy_that_reserves_it(
    app: FastAPI, settings: Settings, staff: Staff
) -> None:
    started(app, settings, staff.engineer)
    with pytest.raises(BreakGlassRefused, match="still running"):
        started(app, settings, staff.engineer)
    with edge(app) as session:
        gone = add_account(session, "gus@example.com", "engineering", disabled_at=NOW)
    with pytest.raises(AccountInactive, match="disabled"):
        started(app, settings, gone)

    def no_operations(d: dict[str, Any]) -> None:
        d["legal_disclosures"]["grounds"] = ["comply_with_law"]
        d["staff"]["break_glass"]["roles"] = []  # `policy check` refuses break-glass without

    loaded = parse_text(policy_text(no_operations))
    with pytest.raises(BreakGlassRefused, match="does not reserve access"):
        run(app, lambda s: bg.start(s, loaded, staff.support, WHY, 30))


def test_the_caller_grants_every_top_level_data_use(
    app: FastAPI, settings: Settings, staff: Staff
) -> None:
    grant = started(app, settings, staff.engineer)
    with app.state.sessionmaker() as session:
        caller = bg.caller_for_break_glass(
            session, app.state.policies.current(), staff.engineer, grant, NOW
        )
    uses: Callable[[str], bool] = caller.grants
    assert "essential" in caller.purposes and "marketing" in caller.purposes
    assert all("." not in p for p in caller.purposes)
    assert uses("essential.legal_obligation") and uses("analytics.reporting")


# -- Hole 2: break-glass is not for everyone ----------------------------------------------------


def with_break_glass(**rule: Any) -> Any:
    """Return the example policy with its staff.break_glass section changed."""

    def change(d: dict[str, Any]) -> None:
        d["staff"]["break_glass"].update(rule)

    return parse_text(policy_text(change))


def entries(app: FastAPI, action: str) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        stmt = select(AuditEntry).where(AuditEntry.action == action).order_by(AuditEntry.seq)
        return list(session.scalars(stmt))


def no_grants(app: FastAPI) -> bool:
    with app.state.sessionmaker() as session:
        return session.scalars(select(BreakGlass)).all() == []


def test_only_the_roles_the_policy_names_may_open_break_glass_and_refusals_are_audited(
    app: FastAPI, staff: Staff
) -> None:
    loaded = app.state.policies.current()
    assert loaded.policy.staff.break_glass.roles == ["engineering"]
    for account in (staff.support, staff.officer):
        with pytest.raises(BreakGlassNotAllowed, match=r"only these roles .*: engineering") as info:
            run(app, lambda s, a=account: bg.start(s, loaded, a, WHY, 30, NOW))
        assert info.value.status_code == 403
    assert no_grants(app)
    refused = entries(app, "break_glass_start")
    assert [(e.actor, e.role, e.decision) for e in refused] == [
        ("sam@example.com", "support", "deny"),
        ("olivia@example.com", "privacy_officer", "deny"),
    ]
    assert "staff.break_glass.roles" in (refused[0].reason or "")


def test_contractors_and_agents_only_where_the_policy_says_so(app: FastAPI) -> None:
    with edge(app) as session:
        hired = add_account(session, "cy@example.com", "engineering", kind="contractor")
    with pytest.raises(BreakGlassNotAllowed, match=r"kinds of staff .*: employee"):
        run(app, lambda s: bg.start(s, app.state.policies.current(), hired, WHY, 30, NOW))
    assert no_grants(app)
    loaded = with_break_glass(kinds=["employee", "contractor"])
    grant = run(app, lambda s: bg.start(s, loaded, hired, WHY, 30, NOW))
    assert bg.state(grant, NOW) == "active"


def test_the_longest_grant_is_the_policy_s_not_a_setting(app: FastAPI, staff: Staff) -> None:
    assert not hasattr(Settings(), "break_glass_max_minutes")
    loaded = with_break_glass(max_minutes=60)
    with pytest.raises(BreakGlassRefused, match="lasts 1 to 60 minutes, not 61"):
        run(app, lambda s: bg.start(s, loaded, staff.engineer, WHY, 61, NOW))
    grant = run(app, lambda s: bg.start(s, loaded, staff.engineer, WHY, 60, NOW))
    assert clock.aware(grant.expires_at) == NOW + dt.timedelta(minutes=60)


def test_with_approval_a_second_person_of_a_named_role_opens_the_grant(
    app: FastAPI, staff: Staff, registered: dict[str, Any]
) -> None:
    loaded = with_break_glass(approval_required=True, approvers=["privacy_officer", "engineering"])
    grant = run(app, lambda s: bg.start(s, loaded, staff.engineer, WHY, 30, NOW))
    assert bg.state(grant, NOW) == "pending"
    later = NOW + dt.timedelta(minutes=5)
    with pytest.raises(BreakGlassExpired, match="awaits approval"):
        read_under(app, staff.engineer, grant.id, registered["subject_id"], "essential", now=later)
    # Never its holder, never a role the policy does not name.
    with pytest.raises(BreakGlassNotAllowed, match="never its holder"):
        run(app, lambda s: bg.approve(s, loaded, staff.engineer, grant.id, later))
    with pytest.raises(BreakGlassNotAllowed, match="only these roles approve"):
        run(app, lambda s: bg.approve(s, loaded, staff.support, grant.id, later))
    with app.state.sessionmaker() as session:
        assert bg.state(bg.get_grant(session, grant.id), later) == "pending"
    approved = run(app, lambda s: bg.approve(s, loaded, staff.officer, grant.id, later))
    assert bg.state(approved, later) == "active"
    assert clock.aware(approved.expires_at) == later + dt.timedelta(minutes=30)
    assert approved.approved_by == staff.officer.id
    with pytest.raises(BreakGlassRefused, match="not awaiting approval"):
        run(app, lambda s: bg.approve(s, loaded, staff.second, grant.id, later))
    paid = read_under(
        app,
        staff.engineer,
        grant.id,
        registered["subject_id"],
        "essential.service.payment_processing",
        now=later,
    )
    assert paid["values"]["card"]["value"] == "4242"
    denied = [(e.actor, e.decision) for e in entries(app, "break_glass_approve")]
    assert denied == [
        ("erin@example.com", "deny"),
        ("sam@example.com", "deny"),
        ("olivia@example.com", "allow"),
    ]
    assert [e.action for e in flagged(app, grant.id)] == [
        "break_glass_request",
        "break_glass_use",
        "break_glass_start",
        "read",
    ]


def test_the_privacy_officer_is_told_at_once_with_a_durable_notice(
    app: FastAPI, staff: Staff
) -> None:
    grant = run(
        app, lambda s: bg.start(s, app.state.policies.current(), staff.engineer, WHY, 30, NOW)
    )
    assert grant.notified == ["privacy_officer"]
    [notice] = entries(app, "break_glass_notify")
    assert (notice.actor, notice.decision) == (bg.NOTIFIER, "allow")
    assert (notice.reason or "").startswith("to privacy_officer: erin@example.com (engineering)")
    assert grant.id in (notice.reason or "") and WHY in (notice.reason or "")
    with app.state.sessionmaker() as session:
        [told] = bg.notices_for(session, staff.officer, NOW)
        assert (told.id, told.account, told.state) == (grant.id, "erin@example.com", "active")
        assert bg.notices_for(session, staff.support, NOW) == []


def test_policy_check_refuses_break_glass_for_roles_that_do_not_exist() -> None:
    def bad(d: dict[str, Any]) -> None:
        d["staff"]["break_glass"] = {
            "roles": ["engineering", "operations"],
            "approval_required": True,
            "notify": ["web_backend"],
        }

    with pytest.raises(PolicyInvalid) as info:
        parse_text(policy_text(bad))
    found = {(p.location, p.message.split(" (")[0]) for p in info.value.problems}
    assert found == {
        ("staff.break_glass.roles[1]", "'operations' is not a role of staff.roles"),
        (
            "staff.break_glass.notify[0]",
            "'web_backend' is a service role: break-glass is for staff",
        ),
        (
            "staff.break_glass.approvers",
            "approval_required needs the roles whose members approve",
        ),
    }

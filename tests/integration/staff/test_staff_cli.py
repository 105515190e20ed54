"""`avowal staff add|list|disable|relink`: accounts for the policy's roles, refused when they
break a rule of the policy."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select
from typer.testing import CliRunner

from avowal.audit.models import AuditEntry
from avowal.cli import app as cli
from avowal.staff.models import Enrolment, StaffAccount, StaffSession
from tests.integration.staff.conftest import Clock, Member

runner = CliRunner()
LINK = re.compile(r"^http://127\.0\.0\.1:8000/console/enrol/[A-Za-z0-9_-]{43}$")


def staff(*args: str) -> tuple[int, str, str]:
    result = runner.invoke(cli, ["staff", *args])
    return result.exit_code, result.stdout, result.stderr


def in_days(clock: Clock, days: int) -> str:
    return (clock.now.date() + dt.timedelta(days=days)).isoformat()


@pytest.mark.usefixtures("cli_env")
def test_add_prints_a_single_use_link_and_keeps_only_its_hash(app: FastAPI, clock: Clock) -> None:
    code, out, err = staff("add", "Grace@Example.com", "--kind", "employee", "--role", "support")
    assert code == 0, err
    link = out.strip()
    assert LINK.match(link)
    assert "works once, within 72 hours" in err
    day = in_days(clock, 30)
    contractor = ["--kind", "contractor", "--role", "engineering", "--expires", day]
    code, _, err = staff("add", "ada@example.com", *contractor)
    assert code == 0, err
    with app.state.sessionmaker() as session:
        grace, ada = session.scalars(select(StaffAccount).order_by(StaffAccount.id)).all()
        enrolment = session.scalars(select(Enrolment).order_by(Enrolment.id)).first()
        reasons = session.scalars(
            select(AuditEntry.reason).where(AuditEntry.action == "staff_add")
        ).all()
    assert grace.email == "grace@example.com"
    assert (grace.kind, grace.role, grace.expires_at) == ("employee", "support", None)
    assert grace.password_hash is None and grace.enrolled_at is None
    assert grace.totp_secret is not None and len(grace.totp_secret) > 32
    assert enrolment is not None and len(enrolment.token_hash) == 64
    assert link.rsplit("/", 1)[1] not in enrolment.token_hash
    # A contractor "expiring on" a day works through that day (UTC).
    assert ada.expires_at is not None
    assert ada.expires_at.replace(tzinfo=dt.UTC) == dt.datetime.combine(
        dt.date.fromisoformat(day) + dt.timedelta(days=1), dt.time(), dt.UTC
    )
    assert reasons[0] == "grace@example.com as support (employee)"


REFUSALS = [
    (
        ["--kind", "employee", "--role", "janitor"],
        "role 'janitor' is not a role of the policy (roles: billing, engineering, marketing, "
        "privacy_officer, support)",
    ),
    (
        ["--kind", "employee", "--role", "web_backend"],
        "role 'web_backend' is a service role for site back ends",
    ),
    (
        ["--kind", "contractor", "--role", "billing", "--expires", "+10"],
        "the policy gives role 'billing' only to: employee (not contractor)",
    ),
    (
        ["--kind", "agent", "--role", "marketing"],
        "an agent's account must expire: give --expires DATE, at most 365 days ahead",
    ),
    (["--kind", "contractor", "--role", "engineering"], "a contractor's account must expire"),
    (
        ["--kind", "contractor", "--role", "engineering", "--expires", "+366"],
        "the policy lets a contractor's account last at most 365 days",
    ),
    (["--kind", "employee", "--role", "support", "--expires", "-1"], "is in the past"),
    (
        ["--kind", "employee", "--role", "support", "--expires", "next week"],
        "--expires next week is not a date (YYYY-MM-DD)",
    ),
    (["--kind", "intern", "--role", "support"], "'intern' is not one of"),
]


@pytest.mark.usefixtures("cli_env")
def test_add_refuses_what_the_policy_does_not_allow(app: FastAPI, clock: Clock) -> None:
    for args, message in REFUSALS:
        given = [in_days(clock, int(a)) if re.fullmatch(r"[+-]\d+", a) else a for a in args]
        code, out, err = staff("add", "ada@example.com", *given)
        # Typer refuses a kind outside the choices itself, as a usage error (exit 2).
        assert code == (2 if "intern" in args else 1)
        assert out == ""
        assert message in err, (args, err)
    code, _, err = staff("add", "not-an-email", "--kind", "employee", "--role", "support")
    assert code == 1
    assert "'not-an-email' is not a valid e-mail address" in err
    longest = ["--kind", "contractor", "--role", "engineering", "--expires", in_days(clock, 365)]
    code, _, _ = staff("add", "ada@example.com", *longest)
    assert code == 0
    code, _, err = staff("add", "ADA@example.com", "--kind", "employee", "--role", "billing")
    assert code == 1
    assert "an account for ada@example.com exists already" in err
    with app.state.sessionmaker() as session:
        assert session.scalars(select(StaffAccount.email)).all() == ["ada@example.com"]


@pytest.mark.usefixtures("cli_env")
def test_list_shows_state_expiry_and_acknowledged_version(
    make_member: Callable[..., Member], clock: Clock
) -> None:
    make_member("grace@example.com")
    ten_days = clock.now.date() + dt.timedelta(days=10)
    make_member(
        "ada@example.com",
        role="engineering",
        kind="contractor",
        expires=ten_days,
        acknowledge=False,
    )
    make_member("alan@example.com", enrol=False, acknowledge=False)
    make_member("joan@example.com")
    assert staff("disable", "joan@example.com")[0] == 0
    code, out, _ = staff("list")
    assert code == 0
    lines = [line.split("\t") for line in out.splitlines()]
    day = in_days(clock, 11)
    assert lines == [
        ["ada@example.com", "contractor", "engineering", "active", f"expires {day} 00:00Z",
         "not acknowledged"],
        ["alan@example.com", "employee", "support", "not enrolled", "no expiry",
         "not acknowledged"],
        ["grace@example.com", "employee", "support", "active", "no expiry",
         "acknowledged 2017-02"],
        ["joan@example.com", "employee", "support", "disabled", "no expiry",
         "acknowledged 2017-02"],
    ]  # fmt: skip
    clock.advance(days=12)
    _, out, _ = staff("list")
    assert out.splitlines()[0].split("\t")[3] == "expired"


@pytest.mark.usefixtures("cli_env")
def test_disable_ends_the_sessions_at_once(
    app: FastAPI, client: TestClient, member: Member, sign_in: Callable[..., httpx.Response]
) -> None:
    sign_in(member)
    assert client.get("/console/probe").status_code == 200
    code, out, _ = staff("disable", "GRACE@example.com")
    assert code == 0
    assert out.strip() == "account grace@example.com disabled; 1 session(s) ended"
    page = client.get("/console/probe", follow_redirects=False)
    assert (page.status_code, page.headers["location"]) == (303, "/console/login")
    with app.state.sessionmaker() as session:
        assert all(s.ended_at is not None for s in session.scalars(select(StaffSession)))
    code, _, err = staff("disable", "nobody@example.com")
    assert code == 1
    assert "no staff account for nobody@example.com" in err


@pytest.mark.usefixtures("cli_env")
def test_relink_resets_password_and_authenticator(
    app: FastAPI, client: TestClient, member: Member, sign_in: Callable[..., httpx.Response]
) -> None:
    sign_in(member)
    code, out, _ = staff("relink", member.email)
    assert code == 0
    assert LINK.match(out.strip())
    assert client.get("/console/probe", follow_redirects=False).status_code == 303
    assert client.get(out.strip().replace("http://127.0.0.1:8000", "")).status_code == 200
    assert client.get(f"/console/enrol/{member.token}").status_code == 410
    with app.state.sessionmaker() as session:
        account = session.get(StaffAccount, member.account_id)
        assert account is not None and account.password_hash is None

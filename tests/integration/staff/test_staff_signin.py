"""Sign-in: password and TOTP, no account enumeration, throttling and lockout."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from avowal.policy.loader import parse_text
from avowal.staff import passwords
from avowal.staff import service as staff
from avowal.staff.models import LoginAttempt, StaffAccount, StaffSession
from tests.factories import policy_text
from tests.integration.staff.conftest import PASSWORD, Clock, Member

SignIn = Callable[..., httpx.Response]
GENERIC = "e-mail, password or code is wrong"
WRONG = "wrong-Lantern-47-orbit"


def audit_rows(app: FastAPI) -> list[AuditEntry]:
    with app.state.sessionmaker() as session:
        return list(session.scalars(select(AuditEntry).order_by(AuditEntry.seq)))


def refused(answer: httpx.Response, status: int = 401) -> None:
    assert answer.status_code == status, answer.text
    assert "avowal_session" not in answer.headers.get("set-cookie", "")


def flags(answer: httpx.Response, name: str) -> set[str]:
    found = [c for c in answer.headers.get_list("set-cookie") if c.startswith(f"{name}=")]
    assert len(found) == 1, answer.headers.get_list("set-cookie")
    return {part.strip().lower() for part in found[0].split(";")[1:]}


def test_the_right_password_and_code_open_a_session(
    app: FastAPI, client: TestClient, member: Member, sign_in: SignIn
) -> None:
    form = client.get("/console/login")
    assert flags(form, "avowal_csrf") == {"httponly", "path=/console", "samesite=strict"}
    answer = sign_in(member)
    assert (answer.status_code, answer.headers["location"]) == (303, "/console")
    # Not Secure: the test settings run over plain http (production: test_staff_sessions).
    assert flags(answer, "avowal_session") == {"httponly", "path=/console", "samesite=strict"}
    assert answer.headers["cache-control"] == "no-store"
    token = client.cookies["avowal_session"]
    assert len(token) == 22  # 16 random bytes, base64url
    page = client.get("/console")
    assert page.status_code == 200
    assert "grace@example.com" in page.text and "Customer support" in page.text
    with app.state.sessionmaker() as session:
        stored = session.scalars(select(StaffSession)).one()
        account = session.get(StaffAccount, member.account_id)
    assert stored.id_hash != token and len(stored.id_hash) == 64
    assert account is not None and account.last_login_at is not None
    entry = audit_rows(app)[-1]
    assert (entry.actor, entry.role, entry.action, entry.decision) == (
        "grace@example.com",
        "support",
        "sign_in",
        "allow",
    )


def test_wrong_password_wrong_code_and_unknown_email_get_the_same_answer(
    app: FastAPI, member: Member, sign_in: SignIn, clock: Clock, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append("verify")
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "HASHER", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    wrong_code = "000000" if member.code(clock.now) != "000000" else "111111"
    answers = [
        sign_in(member, password="quiet-Lantern-47-orbiT"),
        sign_in(member, code=wrong_code),
        sign_in(member, code=""),  # the support role sees personal data: a code is required
        sign_in(member, email="nobody@example.com"),
    ]
    for answer in answers:
        refused(answer)
        assert GENERIC in answer.text
    bodies = {a.text.replace("nobody@example.com", "grace@example.com") for a in answers}
    assert len(bodies) == 1  # nothing tells an unknown e-mail from a wrong password
    assert len(verified) == 4  # an unknown account costs a (dummy) verification too
    failures = [e for e in audit_rows(app) if e.action == "sign_in_failed"]
    assert [(e.actor, e.decision, e.reason) for e in failures] == [
        ("grace@example.com", "deny", "wrong password"),
        ("grace@example.com", "deny", "wrong or reused code"),
        ("grace@example.com", "deny", "wrong or reused code"),
        ("unknown", "deny", "unknown account"),
    ]
    logged = " ".join(f"{e.actor} {e.reason}" for e in audit_rows(app))
    assert "nobody" not in logged and "orbiT" not in logged and wrong_code not in logged


def test_a_code_works_once(
    client: TestClient, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    code = member.code(clock.now)
    assert sign_in(member, code=code).status_code == 303
    client.cookies.clear()
    refused(sign_in(member, code=code))
    clock.advance(seconds=30)
    refused(sign_in(member, code=code))  # the previous step's code, used already
    assert sign_in(member).status_code == 303


def test_a_role_without_personal_data_may_sign_in_without_a_code(
    app: FastAPI, make_member: Callable[..., Member], sign_in: SignIn, clock: Clock
) -> None:
    def add_role(data: dict[str, Any]) -> None:
        data["staff"]["roles"]["reception"] = {"title": "Reception", "purposes": []}

    app.state.policy = parse_text(policy_text(add_role))
    receptionist = make_member("joan@example.com", role="reception")
    assert sign_in(receptionist, code="").status_code == 303
    wrong = "000000" if receptionist.code(clock.now) != "000000" else "111111"
    refused(sign_in(receptionist, code=wrong))  # a code given is still checked


def test_an_account_is_locked_after_repeated_failures_even_from_other_addresses(
    app: FastAPI, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    for _ in range(4):
        refused(sign_in(member, password=WRONG))
    locked = sign_in(member, password=WRONG)
    refused(locked, 429)
    assert locked.headers["retry-after"] == str(15 * 60)
    assert "too many failed sign-ins" in locked.text
    elsewhere = TestClient(app, client=("198.51.100.7", 40000))
    refused(sign_in(member, via=elsewhere), 429)  # right credentials, still locked
    clock.advance(minutes=14, seconds=59)
    answer = sign_in(member, via=elsewhere)
    refused(answer, 429)
    assert answer.headers["retry-after"] == "1"
    clock.advance(seconds=1)
    assert sign_in(member, via=elsewhere).status_code == 303
    with app.state.sessionmaker() as session:
        attempts = session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    # Attempts refused during the lockout are not counted: the lockout cannot be prolonged.
    assert [a.success for a in attempts] == [False] * 5 + [True]
    assert all("example" not in a.account_hash + a.address_hash for a in attempts)
    assert [e.reason for e in audit_rows(app) if e.action == "sign_in_failed"][-1] == "locked out"


def test_an_address_is_locked_after_failures_on_any_accounts(
    app: FastAPI, member: Member, sign_in: SignIn
) -> None:
    attacker = TestClient(app, client=("203.0.113.9", 40000))
    for i in range(4):
        refused(sign_in(member, email=f"guess{i}@example.com", via=attacker))
    refused(sign_in(member, email="guess4@example.com", via=attacker), 429)
    refused(sign_in(member, via=attacker), 429)  # right credentials, from the locked address
    assert sign_in(member).status_code == 303  # the account itself is not locked


def test_success_clears_the_account_count_and_old_failures_are_forgotten(
    app: FastAPI, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    for _ in range(4):
        refused(sign_in(member, password=WRONG))
    clock.advance(seconds=30)
    assert sign_in(member).status_code == 303
    other = TestClient(app, client=("198.51.100.8", 40000))
    for _ in range(4):
        refused(sign_in(member, password=WRONG, via=other))
        clock.advance(minutes=5)
    # Four more failures, then a fifth: never five within 15 minutes after the success.
    refused(sign_in(member, password=WRONG, via=other))
    assert sign_in(member, via=other).status_code == 303


def test_disabled_and_expired_accounts_cannot_sign_in(
    app: FastAPI, make_member: Callable[..., Member], sign_in: SignIn, clock: Clock
) -> None:
    contractor = make_member(
        "ada@example.com", role="engineering", kind="contractor", expires=clock.now.date()
    )
    gone = make_member("joan@example.com")
    with app.state.sessionmaker() as session, session.begin():
        staff.disable(session, gone.email, now=clock.now)
    answer = sign_in(gone)
    refused(answer, 403)
    assert "this account is disabled" in answer.text
    refused(sign_in(gone, password=PASSWORD + "x"))  # wrong credentials: the generic answer
    clock.advance(days=1)
    answer = sign_in(contractor)
    refused(answer, 403)
    assert "this account is expired" in answer.text

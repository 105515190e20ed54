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
from tests.serving import enforce

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

    enforce(app, parse_text(policy_text(add_role)))
    receptionist = make_member("joan@example.com", role="reception")
    assert sign_in(receptionist, code="").status_code == 303
    wrong = "000000" if receptionist.code(clock.now) != "000000" else "111111"
    refused(sign_in(receptionist, code=wrong))  # a code given is still checked


def address(host: str, app: FastAPI) -> TestClient:
    """Return a browser at another network address."""
    return TestClient(app, client=(host, 40000))


def test_failures_lock_only_that_account_from_that_address(
    app: FastAPI, make_member: Callable[..., Member], member: Member, sign_in: SignIn
) -> None:
    joan = make_member("joan@example.com")
    # A colleague at 203.0.113.9 types Grace's e-mail with wrong passwords.
    office = address("203.0.113.9", app)
    for _ in range(4):
        refused(sign_in(member, password=WRONG, via=office))
    locked = sign_in(member, password=WRONG, via=office)
    refused(locked, 429)
    assert "too many failed sign-ins" in locked.text
    refused(sign_in(member, via=office), 429)  # right credentials, still backing off there
    # Joan, behind the same address, is not locked; nor is Grace anywhere else.
    assert sign_in(joan, via=office).status_code == 303
    assert sign_in(member, via=address("198.51.100.7", app)).status_code == 303
    with app.state.sessionmaker() as session:
        attempts = session.scalars(select(LoginAttempt).order_by(LoginAttempt.id)).all()
    # Attempts refused while backing off are not counted: they cannot prolong it.
    assert [a.success for a in attempts] == [False] * 5 + [True, True]
    assert all("example" not in a.account_hash + a.address_hash for a in attempts)
    assert [e.reason for e in audit_rows(app) if e.action == "sign_in_failed"][-1] == "locked out"


def test_back_off_doubles_with_each_failure_up_to_a_cap(
    app: FastAPI, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    for _ in range(4):
        refused(sign_in(member, password=WRONG))
    waits = []
    for _ in range(7):
        answer = sign_in(member, password=WRONG)
        refused(answer, 429)
        waits.append(int(answer.headers["retry-after"]))
        clock.advance(seconds=waits[-1] - 1)
        refused(sign_in(member), 429)  # one second early: still refused, not prolonged
        assert int(sign_in(member).headers["retry-after"]) == 1
        clock.advance(seconds=1)
    # 1, 2, 4, 8 minutes, then never more than the cap of 15 minutes.
    assert waits == [60, 120, 240, 480, 900, 900, 900]
    assert sign_in(member).status_code == 303  # the end: a success clears the back-off
    client_again = address("198.51.100.9", app)
    assert sign_in(member, password=WRONG, via=client_again).status_code == 401


def test_an_account_ceiling_stops_guessing_from_many_addresses_for_a_short_time(
    app: FastAPI, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"login_account_max_failures": 12})
    for i in range(3):  # four failures from each of three addresses: no pair backs off
        guesser = address(f"203.0.113.{10 + i}", app)
        for j in range(4):
            # The twelfth failure reaches the account's ceiling.
            refused(sign_in(member, password=WRONG, via=guesser), 429 if i * 4 + j == 11 else 401)
    answer = sign_in(member, via=address("198.51.100.20", app))
    refused(answer, 429)  # the ceiling: the account backs off everywhere...
    assert int(answer.headers["retry-after"]) <= 60  # ...but briefly
    clock.advance(minutes=1)
    assert sign_in(member, via=address("198.51.100.20", app)).status_code == 303


def test_an_address_ceiling_counts_accounts_so_one_account_never_locks_another(
    app: FastAPI, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    app.state.settings = app.state.settings.model_copy(update={"login_address_max_accounts": 4})
    spray = address("203.0.113.9", app)
    # Many failures for one account count once for the address.
    for _ in range(4):
        refused(sign_in(member, email="guess0@example.com", via=spray))
    for i in (1, 2):
        refused(sign_in(member, email=f"guess{i}@example.com", via=spray))
    assert sign_in(member, via=spray).status_code == 303
    spray.cookies.clear()
    refused(sign_in(member, email="guess3@example.com", via=spray), 429)  # four accounts failed
    refused(sign_in(member, via=spray), 429)  # right credentials, from the address backing off
    clock.advance(seconds=30)  # a new TOTP step: the code used above works once
    assert sign_in(member).status_code == 303  # the account itself is not locked


def test_a_success_clears_the_pair_and_old_failures_are_forgotten(
    app: FastAPI, member: Member, sign_in: SignIn, clock: Clock
) -> None:
    for _ in range(4):
        refused(sign_in(member, password=WRONG))
    clock.advance(seconds=30)
    assert sign_in(member).status_code == 303
    for _ in range(4):
        refused(sign_in(member, password=WRONG))
        clock.advance(minutes=16)
    # Four more failures, then a fifth: never five within the hour's window after the success.
    refused(sign_in(member, password=WRONG))
    clock.advance(seconds=30)
    assert sign_in(member).status_code == 303


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

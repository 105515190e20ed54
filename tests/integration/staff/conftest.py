"""Staff fixtures: a movable clock, light Argon2 parameters, staff members and sign-in."""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import pyotp
import pytest
from argon2 import PasswordHasher
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.console.deps import StaffAccess, StaffAccessForm
from avowal.lib import clock as staff_clock
from avowal.settings import Settings
from avowal.staff import passwords
from avowal.staff import service as staff

PASSWORD = "quiet-Lantern-47-orbit"
TOKEN = re.compile(r"/console/enrol/([A-Za-z0-9_-]{43})$")


@dataclass
class Clock:
    """The time the staff domain sees; tests move it forward."""

    now: dt.datetime

    def advance(self, **delta: float) -> None:
        self.now += dt.timedelta(**delta)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Freeze the staff clock at the start of a TOTP step; tests advance it explicitly."""
    real = dt.datetime.now(dt.UTC)
    start = real.replace(second=0 if real.second < 30 else 30, microsecond=0)
    frozen = Clock(start)
    monkeypatch.setattr(staff_clock, "now", lambda: frozen.now)
    return frozen


@pytest.fixture(autouse=True)
def light_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hash with light Argon2id parameters: the rules are the same, the tests quicker."""
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


@dataclass
class Member:
    """A staff member made for a test, with what they know."""

    email: str
    role: str
    password: str
    secret: str
    token: str
    account_id: int

    def code(self, at: dt.datetime) -> str:
        """Return the member's TOTP code at ``at``."""
        return pyotp.TOTP(self.secret).at(at)


@pytest.fixture
def make_member(app: FastAPI, clock: Clock) -> Callable[..., Member]:
    """Return a factory of staff members, enrolled and acknowledged unless told otherwise."""

    def make(
        email: str = "grace@example.com",
        *,
        role: str = "support",
        kind: str = "employee",
        expires: dt.date | None = None,
        enrol: bool = True,
        acknowledge: bool = True,
    ) -> Member:
        state = app.state
        with state.sessionmaker() as session, session.begin():
            added = staff.add(
                session,
                state.policies.current(),
                state.settings,
                state.secrets,
                email=email,
                kind=kind,
                role=role,
                expires=expires,
                now=clock.now,
            )
            secret = staff.totp_secret(state.secrets, added.account)
            match = TOKEN.search(added.link)
            assert match is not None, added.link
            token = match.group(1)
            if enrol:
                # Confirmed with the previous step's code, so the current one is still unused.
                staff.complete_enrolment(
                    session,
                    state.policies.current(),
                    state.secrets,
                    token,
                    password=PASSWORD,
                    confirm=PASSWORD,
                    code=pyotp.TOTP(secret).at(clock.now - dt.timedelta(seconds=30)),
                    now=clock.now,
                )
            if acknowledge:
                version = state.policies.current().policy.staff.confidentiality.version
                staff.acknowledge(
                    session, state.policies.current(), added.account, version, now=clock.now
                )
            return Member(added.account.email, role, PASSWORD, secret, token, added.account.id)

    return make


@pytest.fixture
def member(make_member: Callable[..., Member]) -> Member:
    """Grace, support agent (employee), enrolled and bound by the agreement."""
    return make_member()


def _login_token(client: TestClient) -> str:
    page = client.get("/console/login")
    assert page.status_code == 200
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    assert client.cookies.get("avowal_csrf") == found.group(1)
    return found.group(1)


@pytest.fixture
def sign_in(client: TestClient, clock: Clock) -> Callable[..., httpx.Response]:
    """Return a function posting the sign-in form (right credentials unless told otherwise)."""

    def post(
        who: Member,
        *,
        email: str | None = None,
        password: str | None = None,
        code: str | None = None,
        via: TestClient | None = None,
    ) -> httpx.Response:
        browser = via or client
        return browser.post(
            "/console/login",
            data={
                "email": who.email if email is None else email,
                "password": who.password if password is None else password,
                "code": who.code(clock.now) if code is None else code,
                "csrf_token": _login_token(browser),
            },
            follow_redirects=False,
        )

    return post


@pytest.fixture
def login_token() -> Callable[[TestClient], str]:
    """Return a function loading the sign-in form and returning its CSRF token."""
    return _login_token


def _csrf_of(client: TestClient) -> str:
    page = client.get("/console")
    assert page.status_code == 200, page.text
    found = re.search(r'name="csrf_token" value="([^"]+)"', page.text)
    assert found is not None
    return found.group(1)


@pytest.fixture
def csrf_of() -> Callable[[TestClient], str]:
    """Return a function reading the session's CSRF token from the home page's sign-out form."""
    return _csrf_of


@pytest.fixture(autouse=True)
def probe(app: FastAPI) -> None:
    """Add a page guarded by ``StaffAccess`` and a form guarded by ``StaffAccessForm``."""

    @app.get("/console/probe")
    def probe_page(ctx: StaffAccess) -> dict[str, Any]:
        assert ctx.caller is not None
        return {"name": ctx.caller.name, "role": ctx.caller.role, "purposes": ctx.caller.purposes}

    @app.post("/console/probe")
    def probe_form(ctx: StaffAccessForm) -> dict[str, Any]:
        return {"done": ctx.account.email}


@pytest.fixture
def cli_env(monkeypatch: pytest.MonkeyPatch, settings: Settings, app: FastAPI) -> None:
    """Point the command line at the test database, data folder (keys) and policy."""
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))

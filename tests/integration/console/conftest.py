"""Console page tests: signed-in staff members, each with their own browser (cookie jar)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import select

from avowal.audit.models import AuditEntry
from tests.integration.staff import conftest as staff_fixtures
from tests.integration.staff.conftest import Member

# The staff fixtures: a frozen staff clock, light Argon2, members enrolled with TOTP, sign-in.
clock = staff_fixtures.clock
light_hashing = staff_fixtures.light_hashing
make_member = staff_fixtures.make_member
sign_in = staff_fixtures.sign_in
login_token = staff_fixtures.login_token
csrf_of = staff_fixtures.csrf_of


@dataclass
class Browser:
    """A signed-in staff member's browser: the member, a client with its cookies, the CSRF token."""

    member: Member
    http: TestClient
    csrf: str

    def get(self, url: str, **kw: Any) -> httpx.Response:
        return self.http.get(url, follow_redirects=False, **kw)

    def post(self, url: str, data: dict[str, Any] | None = None, **kw: Any) -> httpx.Response:
        form = {"csrf_token": self.csrf, **(data or {})}
        return self.http.post(url, data=form, follow_redirects=False, **kw)


@pytest.fixture
def browsers(app: FastAPI, client: TestClient) -> Iterator[list[TestClient]]:
    """Yield the list of extra clients opened by a test, closed afterwards."""
    opened: list[TestClient] = []
    yield opened
    for extra in opened:
        extra.close()


@pytest.fixture
def staff_browser(
    app: FastAPI,
    client: TestClient,
    browsers: list[TestClient],
    make_member: Callable[..., Member],
    sign_in: Callable[..., httpx.Response],
    csrf_of: Callable[[TestClient], str],
) -> Callable[..., Browser]:
    """Return a factory: a staff member of a role, signed in with TOTP in a browser of their own.

    The first one uses the app's ``client`` (its lifespan runs); the others get a new client.
    """

    def make(email: str, role: str = "support", **kw: Any) -> Browser:
        member = make_member(email, role=role, **kw)
        http = client if not client.cookies.get("avowal_session") else TestClient(app)
        if http is not client:
            browsers.append(http)
        answer = sign_in(member, via=http)
        assert answer.status_code == 303, answer.text
        if answer.headers["location"] == "/console/acknowledge":
            return Browser(member, http, "")
        return Browser(member, http, csrf_of(http))

    return make


def audit_entries(app: FastAPI, **where: Any) -> list[AuditEntry]:
    """Return the audit entries matching every column given, oldest first."""
    with app.state.sessionmaker() as session:
        stmt = select(AuditEntry).order_by(AuditEntry.seq)
        for column, value in where.items():
            stmt = stmt.where(getattr(AuditEntry, column) == value)
        return list(session.scalars(stmt))


def options(html: str, name: str) -> list[str]:
    """Return the option values of the select named ``name``."""
    found = re.search(rf'<select[^>]*name="{name}"[^>]*>(.*?)</select>', html, re.S)
    assert found is not None, f"no select {name}"
    return re.findall(r'<option value="([^"]*)"', found.group(1))

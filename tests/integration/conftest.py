"""Integration fixtures: a token per service role of the example policy, staff callers, clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal import client as api
from avowal.callers import service as callers
from avowal.callers.service import Caller
from avowal.client import Client
from avowal.lib.errors import AvowalError
from avowal.vault import access, erasure
from avowal.vault.schemas import Disclosed, DisclosureEntry, Erased, ReadResult
from tests.factories import PURCHASE, REGISTRATION

# Service roles of the example policy: the only roles a token may hold.
SERVICE_ROLES = ("web_backend", "newsletter_service", "reporting_service")
STAFF_ROLES = ("support", "billing", "marketing", "engineering", "privacy_officer")

T = TypeVar("T")


@pytest.fixture
def tokens(app: FastAPI) -> dict[str, str]:
    """Create one service token per service role; return role -> token."""
    with app.state.sessionmaker() as session, session.begin():
        return {
            role: callers.create(session, app.state.policies.current(), role, role)
            for role in SERVICE_ROLES
        }


@pytest.fixture
def as_role(client: TestClient, tokens: dict[str, str]) -> Callable[[str], Client]:
    """Return a factory of API clients acting with a service role's token."""

    def make(role: str) -> Client:
        return Client("http://testserver", tokens[role], http=client)  # type: ignore[arg-type]

    return make


class StaffDesk:
    """A staff member of a role using the vault as the console does: the same services, the
    same commit-or-rollback at the edge, refusals raised as the API client's exceptions."""

    def __init__(self, app: FastAPI, role: str) -> None:
        self.app = app
        purposes = app.state.policies.current().policy.staff.roles[role].purposes
        self.caller = Caller(name=role, role=role, purposes=tuple(purposes))

    def _run(self, work: Callable[[Any], T]) -> T:
        with self.app.state.sessionmaker() as session:
            try:
                out = work(session)
            except AvowalError as exc:
                if exc.keep_audit:
                    session.commit()
                else:
                    session.rollback()
                kind = api._BY_ERROR.get(exc.error, api.AvowalError)
                raise kind(exc.status_code, exc.body()) from None
            session.commit()
            return out

    def read(self, subject: str, *, purpose: str, fields: list[str] | None = None) -> ReadResult:
        state = self.app.state
        return self._run(
            lambda s: access.read(
                s, state.policies.current(), state.secrets, self.caller, subject, purpose, fields
            )
        )

    def lookup(self, field: str, value: str, *, purpose: str) -> list[str]:
        state = self.app.state
        found = self._run(
            lambda s: access.lookup(
                s, state.policies.current(), state.secrets, self.caller, field, value, purpose
            )
        )
        return found.subject_ids

    def disclose(
        self, subject: str, *, recipient: str, fields: list[str], purpose: str
    ) -> Disclosed:
        state = self.app.state
        return self._run(
            lambda s: access.disclose(
                s,
                state.policies.current(),
                state.secrets,
                self.caller,
                subject,
                recipient,
                fields,
                purpose,
            )
        )

    def disclosures(self, subject: str, *, purpose: str) -> list[DisclosureEntry]:
        state = self.app.state
        return self._run(
            lambda s: access.disclosures(s, state.policies.current(), self.caller, subject, purpose)
        )

    def erase(self, subject: str) -> Erased:
        return self._run(
            lambda s: erasure.erase(s, self.app.state.policies.current(), self.caller, subject)
        )


@pytest.fixture
def as_staff(app: FastAPI, client: TestClient) -> Callable[[str], StaffDesk]:
    """Return a factory of staff members of a role (people reach the vault through the console,
    never with a token); the client fixture runs the app's start-up first."""

    def make(role: str) -> StaffDesk:
        return StaffDesk(app, role)

    return make


@pytest.fixture
def backend(as_role: Callable[[str], Client]) -> Client:
    """The site's back end (role web_backend)."""
    return as_role("web_backend")


@pytest.fixture
def registered(backend: Client) -> dict[str, Any]:
    """Register Ada and buy a subscription; return both collection answers."""
    reg = backend.collect("registration", REGISTRATION, ref="user-1")
    buy = backend.collect("purchase", PURCHASE, subject_id=reg["subject_id"])
    return {"subject_id": reg["subject_id"], "registration": reg, "purchase": buy}

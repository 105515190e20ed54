"""Integration fixtures: a service token per role of the example policy, and API clients."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.callers import service as callers
from avowal.client import Client
from tests.factories import PURCHASE, REGISTRATION

ROLES = ("web_backend", "support", "billing", "marketing", "engineering", "privacy_officer")


@pytest.fixture
def tokens(app: FastAPI) -> dict[str, str]:
    """Create one service token per role; return role -> token."""
    with app.state.sessionmaker() as session, session.begin():
        return {role: callers.create(session, app.state.policy, role, role) for role in ROLES}


@pytest.fixture
def as_role(client: TestClient, tokens: dict[str, str]) -> Callable[[str], Client]:
    """Return a factory of API clients acting with a role's token."""

    def make(role: str) -> Client:
        return Client("http://testserver", tokens[role], http=client)  # type: ignore[arg-type]

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

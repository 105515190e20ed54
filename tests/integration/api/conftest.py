"""A populated server for the API contract tests: tokens, current notices, a person, a share link.

Fixtures here build on the integration fixtures (``app``, ``client``; SQLite and PostgreSQL).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.analytics import share
from avowal.callers import service as callers
from avowal.lib.errors import AvowalError
from tests.factories import REGISTRATION

SITE = "www.contactmonkey.com"
# The example policy's two service roles the contract needs: the site's back end and the
# reporting service that reads analytics figures (service tokens are for service roles only).
BACKEND = "web_backend"
ANALYST = "reporting_service"


@dataclass
class World:
    """What a contract test needs to reach past the refusals: valid tokens, ids and notices."""

    app: FastAPI
    client: TestClient
    tokens: dict[str, str]
    notices: dict[str, str]
    subject_id: str
    receipt_id: str
    share_token: str
    statuses: dict[str, dict[int, int]] = field(default_factory=dict)

    def token_for(self, path: str) -> str | None:
        """Return a valid token for an operation's path (analytics routes need the analyst)."""
        if path.startswith("/v1/analytics/"):
            return self.tokens.get(ANALYST)
        return self.tokens.get(BACKEND)


def _token(app: FastAPI, role: str) -> str | None:
    """Create a service token for ``role``; None where the policy gives that role none."""
    try:
        with app.state.sessionmaker() as session, session.begin():
            return callers.create(session, app.state.policies.current(), f"contract-{role}", role)
    except AvowalError:
        return None


@pytest.fixture
def world(app: FastAPI, client: TestClient) -> Iterator[World]:
    """Populate the server: tokens, every point's current notice, one registered person."""
    tokens = {role: t for role in (BACKEND, ANALYST) if (t := _token(app, role)) is not None}
    assert set(tokens) == {BACKEND, ANALYST}
    points = app.state.policies.current().policy.collection_points
    notices = {p: client.get(f"/v1/notices/{p}").json()["notice_id"] for p in points}
    answer: dict[str, Any] = client.post(
        "/v1/collect/registration",
        headers={"Authorization": f"Bearer {tokens[BACKEND]}"},
        json={
            "notice_id": notices["registration"],
            "subject": {"ref": "contract-1"},
            "values": REGISTRATION,
        },
    ).json()
    with app.state.sessionmaker() as session, session.begin():
        share_token = share.create(session, SITE)
    yield World(
        app=app,
        client=client,
        tokens=tokens,
        notices=notices,
        subject_id=answer["subject_id"],
        receipt_id=answer["receipt"]["receipt_id"],
        share_token=share_token,
    )

"""A site's back end on avowal: the example policy's server, and the same server after the
policy changed registration's notice (a purpose added), on the same database."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import Engine, func, select

from avowal.app import create_app
from avowal.policy.loader import parse_text
from avowal.settings import Settings
from avowal.vault.models import PersonalValue
from tests.factories import REGISTRATION, policy_text

PUBLIC_URL = "https://privacy.example.com"
DOMAIN = "www.example.com"
IMPROVE = "essential.service.operations.improve"
# What the registration form sends: the person's values, and things that are not theirs.
FORM = {**REGISTRATION, "csrf_token": "not-a-field", "send": "Register"}
AUTHENTICATION = "essential.service.authentication"
NEWSLETTER = "marketing.communications.email"
_HIDDEN = re.compile(r'<input type="hidden" name="notice_id" value="([0-9a-f]{64})">')


def _changed(data: dict[str, Any]) -> None:
    data["collection_points"]["registration"]["purposes"].append(IMPROVE)


@pytest.fixture
def web_token(tokens: dict[str, str]) -> str:
    """The site's back end's service token (role web_backend)."""
    return tokens["web_backend"]


@pytest.fixture
def changed_http(client: TestClient, settings: Settings, engine: Engine) -> Iterator[TestClient]:
    """Yield an HTTP client of the server once the policy added a purpose to registration."""
    changed = create_app(
        settings, policy=parse_text(policy_text(_changed), "c.yaml"), engine=engine
    )
    with TestClient(changed) as http:
        yield http


def hidden_notice_id(page: str) -> str:
    """Return the notice id of the page's only hidden notice_id input."""
    found = _HIDDEN.findall(page)
    assert len(found) == 1, page
    return str(found[0])


def held(app: FastAPI) -> int:
    """Return how many personal values the vault holds."""
    with app.state.sessionmaker() as s:
        return s.scalar(select(func.count()).select_from(PersonalValue)) or 0


def assert_shows_notice(page: str, notice: dict[str, Any]) -> None:
    """Assert the page shows every purpose and field label of the notice, and its id."""
    for purpose in notice["purposes"]:
        assert str(escape(purpose["description"])) in page
    for field in notice["fields"]:
        assert str(escape(field["label"])) in page
    assert hidden_notice_id(page) == notice["notice_id"]

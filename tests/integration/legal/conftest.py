"""Legal tests: two privacy officers, a support agent and an engineer, and one registered person."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from fastapi import FastAPI

from avowal.staff.models import StaffAccount
from tests.integration.legal.helpers import NOW, add_account, edge


@dataclass(frozen=True)
class Staff:
    officer: StaffAccount
    second: StaffAccount
    support: StaffAccount
    engineer: StaffAccount


@pytest.fixture
def staff(app: FastAPI) -> Staff:
    """Create the staff accounts the tests act as."""
    with edge(app) as session:
        return Staff(
            officer=add_account(session, "olivia@example.com", "privacy_officer", last_login=NOW),
            second=add_account(session, "oscar@example.com", "privacy_officer", last_login=NOW),
            support=add_account(session, "sam@example.com", "support", last_login=NOW),
            engineer=add_account(session, "erin@example.com", "engineering", last_login=NOW),
        )

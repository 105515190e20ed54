"""Staff accounts and sessions for legal, break-glass and review tests (no staff service needed)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

from fastapi import FastAPI
from sqlalchemy.orm import Session

from avowal.lib.errors import AvowalError
from avowal.staff.models import Acknowledgement, StaffAccount

T = TypeVar("T")
NOW = dt.datetime.now(dt.UTC)
CURRENT_ACK = "2017-02"  # the example policy's confidentiality version


def add_account(
    session: Session,
    email: str,
    role: str,
    *,
    kind: str = "employee",
    enrolled: bool = True,
    last_login: dt.datetime | None = None,
    expires_at: dt.datetime | None = None,
    disabled_at: dt.datetime | None = None,
    ack: str | None = CURRENT_ACK,
) -> StaffAccount:
    """Create a staff account row as the staff service would leave it."""
    account = StaffAccount(
        email=email,
        kind=kind,
        role=role,
        created_at=NOW - dt.timedelta(days=200),
        expires_at=expires_at,
        disabled_at=disabled_at,
        enrolled_at=NOW - dt.timedelta(days=199) if enrolled else None,
        failed_logins=0,
        last_login_at=last_login,
    )
    session.add(account)
    session.flush()
    if ack is not None:
        session.add(Acknowledgement(account_id=account.id, version=ack, at=NOW))
    return account


@contextmanager
def edge(app: FastAPI) -> Iterator[Session]:
    """Open a session like a request does: commit on success, keep audited refusals only."""
    with app.state.sessionmaker() as session:
        try:
            yield session
        except AvowalError as exc:
            if exc.keep_audit:
                session.commit()
            else:
                session.rollback()
            raise
        session.commit()


def run(app: FastAPI, action: Callable[[Session], T]) -> T:
    """Run a service call in its own transaction, as the console will."""
    with edge(app) as session:
        return action(session)

"""Queue mail as the services' callers do, and read the outbox's raw rows."""

from __future__ import annotations

import datetime as dt

from fastapi import FastAPI
from sqlalchemy import select

from avowal.db.engine import transaction
from avowal.mail import content, service
from avowal.mail.models import OutboxMessage

SUMMARY = "We now keep invoices for ten years."
CHANGE = "Invoices are kept ten years instead of seven."


def change_notice() -> content.ChangeNotice:
    """Return a change notice with text the tests look for."""
    return content.ChangeNotice(
        effective=dt.date(2027, 1, 1),
        diff_url=content.diff_link("https://privacy.example.com", "old1", "new2"),
        material=True,
        summary=SUMMARY,
        changes=[CHANGE],
    )


def queue_to_ada(app: FastAPI, subject_id: str) -> str:
    """Queue a change notice to a registered person at their service address."""
    state = app.state
    with transaction(state.sessionmaker) as session:
        to = service.service_address(session, state.policies.current(), state.secrets, subject_id)
        assert to is not None
        return service.queue_to_person(
            session,
            state.secrets,
            state.policies.current(),
            subject_id,
            purpose=service.NOTIFICATIONS,
            to=to,
            content=change_notice(),
        )


def row(app: FastAPI, message_id: str) -> OutboxMessage:
    """Return an outbox row as stored."""
    with app.state.sessionmaker() as session:
        found = session.get(OutboxMessage, message_id)
        assert found is not None
        return found


def raw_rows(app: FastAPI) -> list[bytes]:
    """Return every outbox row's columns as bytes, to search for plaintext."""
    with app.state.sessionmaker() as session:
        rows = session.execute(select(OutboxMessage.__table__)).all()
    return [b"|".join(v if isinstance(v, bytes) else str(v).encode() for v in r) for r in rows]

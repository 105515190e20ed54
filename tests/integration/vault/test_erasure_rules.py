"""Erasure: who is refused and how that refusal reads and is audited, and the person's row lock."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from sqlalchemy import Select, event, select
from sqlalchemy.dialects import postgresql

from avowal.audit.models import AuditEntry
from avowal.client import AvowalError, Client


def test_a_refused_erasure_names_the_role_and_who_may_and_is_audited_for_the_person(
    as_role: Callable[[str], Client], registered: dict[str, Any], app: FastAPI
) -> None:
    sid = registered["subject_id"]
    with pytest.raises(AvowalError) as info:
        as_role("newsletter_service").erase(sid)
    assert info.value.status == 403
    assert info.value.message == (
        "role 'newsletter_service' may not erase people: only roles granting essential.service "
        "(the site's back end) or essential.legal_obligation may"
    )
    assert info.value.role == "newsletter_service"
    with app.state.sessionmaker() as s:
        last = s.scalars(select(AuditEntry).order_by(AuditEntry.seq.desc())).first()
        assert last is not None
        assert (last.action, last.decision, last.subject_id) == ("erase", "deny", sid)
        assert last.role == "newsletter_service"


@pytest.fixture
def locking_selects(app: FastAPI) -> Iterator[list[str]]:
    """Collect, as PostgreSQL would run them, the SELECT ... FOR UPDATE statements the app runs.

    SQLite renders no row lock (it has one writer at a time), so the statements are compiled for
    PostgreSQL, where the lock is what serialises two processes working on one person.
    """
    seen: list[str] = []

    # On the engine: the statements the ORM sends and the Core ones sent on the session's
    # connection alike.
    def record(_conn: Any, clause: Any, *_: Any) -> None:
        if isinstance(clause, Select):
            sql = str(clause.compile(dialect=postgresql.dialect()))
            if "FOR UPDATE" in sql:
                seen.append(sql)

    target = app.state.engine
    event.listen(target, "before_execute", record)
    try:
        yield seen
    finally:
        event.remove(target, "before_execute", record)


def test_an_erasure_locks_the_persons_row_before_it_checks_they_are_living(
    backend: Client, registered: dict[str, Any], locking_selects: list[str]
) -> None:
    locking_selects.clear()  # only the erasure's statements
    backend.erase(registered["subject_id"])
    assert any("FROM subjects" in sql for sql in locking_selects), locking_selects

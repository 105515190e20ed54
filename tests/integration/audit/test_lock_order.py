"""The audit head is the last lock a request takes: pending changes are flushed before it."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.vault.models import Subject


def test_pending_changes_are_written_before_the_head_is_advanced(engine: Engine) -> None:
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(" ".join(statement.split())[:40].upper())

    event.listen(engine, "before_cursor_execute", record)
    try:
        with Session(engine) as session, session.begin():
            session.add(Subject(id=str(uuid.uuid4()), created_at=dt.datetime.now(dt.UTC)))
            audit.append(session, audit.Event(actor="test", role="test", action="collect"))
    finally:
        event.remove(engine, "before_cursor_execute", record)
    writes = [s for s in seen if s.startswith(("INSERT", "UPDATE"))]
    subject = next(i for i, s in enumerate(writes) if s.startswith("INSERT INTO SUBJECTS"))
    head = next(i for i, s in enumerate(writes) if s.startswith("UPDATE AUDIT_HEAD"))
    assert subject < head, writes

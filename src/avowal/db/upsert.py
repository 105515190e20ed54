"""INSERT statements with ON CONFLICT clauses, where two processes may insert the same row."""

from __future__ import annotations

from typing import Any

from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session


def dialect_insert(session: Session, table: Any) -> Any:
    """Return an INSERT for ``table`` in the session's dialect (for ON CONFLICT clauses)."""
    dialect = session.get_bind().dialect.name
    module = postgresql if dialect == "postgresql" else sqlite
    return module.insert(table)


def insert_missing(session: Session, table: Any, rows: list[dict[str, Any]], key: Any) -> None:
    """Insert ``rows``, leaving alone any whose ``key`` column another transaction inserted.

    Two server processes starting on a fresh database both record the policy's rows; with
    ON CONFLICT DO NOTHING the second waits for the first and then skips, instead of failing.
    """
    if rows:
        statement = dialect_insert(session, table).values(rows)
        session.execute(statement.on_conflict_do_nothing(index_elements=[key]))

"""Queries on policy versions."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.lifecycle.models import PolicyVersion


def get(session: Session, version_id: str) -> PolicyVersion | None:
    """Return a version by id."""
    return session.get(PolicyVersion, version_id)


def all_versions(session: Session) -> list[PolicyVersion]:
    """Return every recorded version, newest first."""
    stmt = select(PolicyVersion).order_by(PolicyVersion.published_at.desc())
    return list(session.scalars(stmt))

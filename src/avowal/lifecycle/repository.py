"""Queries on policy versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.lifecycle.models import PolicyVersion


def get(session: Session, version_id: str) -> PolicyVersion | None:
    """Return a version by id."""
    return session.get(PolicyVersion, version_id)


def all_versions(session: Session) -> list[PolicyVersion]:
    """Return every recorded version, newest first (by effective time, then publication)."""
    stmt = select(PolicyVersion).order_by(
        PolicyVersion.effective_at.desc(), PolicyVersion.published_at.desc()
    )
    return list(session.scalars(stmt))


def in_effect(session: Session, now: dt.datetime) -> PolicyVersion | None:
    """Return the version in effect at ``now``: the latest to take effect by then."""
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.effective_at <= now)
        .order_by(PolicyVersion.effective_at.desc(), PolicyVersion.published_at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def upcoming(session: Session, now: dt.datetime) -> list[PolicyVersion]:
    """Return the versions announced to take effect after ``now``, soonest first."""
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.effective_at > now)
        .order_by(PolicyVersion.effective_at, PolicyVersion.published_at)
    )
    return list(session.scalars(stmt))


def latest(session: Session) -> PolicyVersion | None:
    """Return the last version in order of taking effect (in effect, or the last announced)."""
    stmt = (
        select(PolicyVersion)
        .order_by(PolicyVersion.effective_at.desc(), PolicyVersion.published_at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def schedule(session: Session) -> list[tuple[str, dt.datetime, dt.datetime]]:
    """Return (version id, effective time, publication time) of every version, cheaply."""
    stmt = select(
        PolicyVersion.version_id, PolicyVersion.effective_at, PolicyVersion.published_at
    ).order_by(PolicyVersion.effective_at, PolicyVersion.published_at)
    return [(v, e, p) for v, e, p in session.execute(stmt)]


def by_prefix(session: Session, prefix: str, limit: int = 2) -> list[PolicyVersion]:
    """Return up to ``limit`` versions whose id starts with ``prefix`` (hex digits only)."""
    stmt = (
        select(PolicyVersion)
        .where(PolicyVersion.version_id.startswith(prefix, autoescape=True))
        .order_by(PolicyVersion.version_id)
        .limit(limit)
    )
    return list(session.scalars(stmt))

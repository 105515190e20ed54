"""Recorded cookie scans: each run of `avowal cookies scan`, and the last one for the review."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.consent.models import CookieScan
from avowal.consent.scan import ScanReport
from avowal.lib import clock


def record(session: Session, report: ScanReport, at: dt.datetime | None = None) -> CookieScan:
    """Record a finished scan: its pages, its findings and whether it passed."""
    row = CookieScan(
        at=clock.current(at),
        urls=list(report.urls),
        findings=[f.model_dump(mode="json", by_alias=True) for f in report.findings],
        ok=report.ok,
    )
    session.add(row)
    session.flush()
    return row


def last(session: Session) -> CookieScan | None:
    """Return the most recent recorded scan, or None when none was ever recorded."""
    return session.scalars(
        select(CookieScan).order_by(CookieScan.at.desc(), CookieScan.id.desc()).limit(1)
    ).first()

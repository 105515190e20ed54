"""Attestations of organisational measures: promises no software can keep."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class Attestation(Base):
    """Someone accountable said an organisational measure is in place, at a time."""

    __tablename__ = "promise_attestations"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    promise: Mapped[str] = mapped_column(String(64), index=True)
    attested_by: Mapped[str] = mapped_column(String(200))
    attested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    note: Mapped[str | None] = mapped_column(Text)

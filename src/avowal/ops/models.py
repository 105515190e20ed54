"""The worker's heartbeat: one row per background job, never anything about a person."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import BigInteger, DateTime, String
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class WorkerHeartbeat(Base):
    """When a job of the worker last started or finished a pass, and how many passes it has
    finished and how many of them failed (counted since the table was made)."""

    __tablename__ = "worker_heartbeats"

    job: Mapped[str] = mapped_column(String(32), primary_key=True)
    beat_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    runs: Mapped[int] = mapped_column(BigInteger, default=0)
    failures: Mapped[int] = mapped_column(BigInteger, default=0)

"""Objections: a person's "no more of this" to a purpose, recorded by an unsubscribe.

Only the subject id and the purpose are kept (no address), so an erasure leaves them: the
tombstone keeps the subject id anyway.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class Objection(Base):
    """A person objected to being written to (and read) for a purpose and the uses within it."""

    __tablename__ = "objections"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    purpose: Mapped[str] = mapped_column(String(200), doc="The data use objected to.")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    via: Mapped[str] = mapped_column(String(16), doc="header, page or api.")

"""Legal requests (four eyes) and break-glass grants."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, Date, DateTime, ForeignKey, Integer, String, Text, false
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class LegalRequest(Base):
    """A request from an authority, approved by a second privacy officer before any export."""

    __tablename__ = "legal_requests"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    authority: Mapped[str] = mapped_column(String(200))
    reference: Mapped[str] = mapped_column(String(200))
    legal_basis: Mapped[str] = mapped_column(Text)
    recipient: Mapped[str] = mapped_column(String(64), doc="The authority recipient of the policy.")
    subject_ids: Mapped[list[str]] = mapped_column(JSON)
    fields: Mapped[list[str]] = mapped_column(JSON)
    deadline: Mapped[dt.date] = mapped_column(Date)
    may_notify: Mapped[bool] = mapped_column(Boolean)
    confidential_until: Mapped[dt.date | None] = mapped_column(Date)
    status: Mapped[str] = mapped_column(String(16), doc="pending, approved, rejected, exported")
    requested_by: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    decided_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    decided_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    exported_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    export_sha256: Mapped[str | None] = mapped_column(String(64))


class SubjectNotice(Base):
    """Something a person must be told, due at a time (e.g. after a legal disclosure)."""

    __tablename__ = "subject_notices"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(Text)
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class BreakGlass(Base):
    """Time-boxed access for operations, any purpose, with a stated justification.

    A grant that needs approval waits (``needs_approval`` and no ``approved_at``) until a second
    person approves it; it then runs ``minutes`` from the approval. Until then ``started_at`` is
    the request's time and ``expires_at`` when the request lapses unapproved.
    """

    __tablename__ = "break_glass"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("staff_accounts.id"), index=True)
    justification: Mapped[str] = mapped_column(Text)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    ended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    minutes: Mapped[int | None] = mapped_column(Integer, doc="The length asked for.")
    needs_approval: Mapped[bool] = mapped_column(Boolean, default=False, server_default=false())
    approved_by: Mapped[int | None] = mapped_column(ForeignKey("staff_accounts.id"))
    approved_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    notified: Mapped[list[str]] = mapped_column(
        JSON,
        default=list,
        doc="The roles told when the grant was asked for (staff.break_glass.notify).",
    )

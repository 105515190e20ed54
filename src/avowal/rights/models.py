"""The person's side: sign-in links and sessions of the privacy center, and cases.

Neither table holds an address or a message: a link or a session is a digest and the subject
ids it opens; a case points at the subject that holds its contact details in the vault, under
that subject's own key (so crypto-shredding reaches them like any other value).
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class PersonGrant(Base):
    """A single-use link or a privacy-center session, for one subject (one row per subject).

    ``kind``: ``link`` (a sign-in link: mailed, or issued by the site for its signed-in user),
    ``session`` (a signed-in browser) or ``identity`` (a case's identity check). Only the
    SHA-256 of the token is kept; a used link keeps ``used_at`` so a second use is told apart
    from a forged one.
    """

    __tablename__ = "person_grants"
    __table_args__ = (Index("ix_person_grants_digest", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    digest: Mapped[str] = mapped_column(String(64))
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    case_id: Mapped[str | None] = mapped_column(String(36), index=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    used_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))


class Case(Base):
    """A rights request or a question: due a month after it arrived, extendable by two.

    ``subject_id`` is the vault subject holding the contact details (the address and the
    message, collected at the policy's contact point); ``account_ids`` the people the request is
    about, known once the sender's identity is checked (or vouched for by the site or a
    privacy-center sign-in).
    """

    __tablename__ = "cases"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    number: Mapped[int] = mapped_column(Integer, unique=True)
    kind: Mapped[str] = mapped_column(String(16))
    source: Mapped[str] = mapped_column(String(16))
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    account_ids: Mapped[str] = mapped_column(Text, default="", doc="Space-separated subject ids.")
    status: Mapped[str] = mapped_column(String(16), index=True)
    opened_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    due_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    extended_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    extension_reason: Mapped[str | None] = mapped_column(Text)
    identity_checked_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    identity_method: Mapped[str | None] = mapped_column(String(100))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_by: Mapped[str | None] = mapped_column(String(200))
    outcome: Mapped[str | None] = mapped_column(String(200), doc="What was done; no personal data.")
    archived_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))

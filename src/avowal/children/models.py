"""The parental consent request of a minor: one row per child, the parent's address sealed."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class ParentalConsent(Base):
    """A request for a parent's consent, from the child's collection to its outcome.

    ``parent_address`` is sealed under the child's own data key: erasing the child shreds it
    too. The links' nonces are kept only as SHA-256 digests and cleared once used.
    """

    __tablename__ = "parental_consents"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    point: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), index=True)
    parent_address: Mapped[bytes | None] = mapped_column(LargeBinary)
    parent_notice_id: Mapped[str] = mapped_column(String(64))
    refused_purposes: Mapped[list[str]] = mapped_column(JSON)
    answer_nonce: Mapped[str | None] = mapped_column(String(64))
    revoke_nonce: Mapped[str | None] = mapped_column(String(64))
    requested_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    answered_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    confirm_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    closed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    receipt_id: Mapped[str | None] = mapped_column(String(36))

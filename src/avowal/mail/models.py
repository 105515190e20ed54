"""The outbox table. A queued message exists only as ciphertext; a sent one keeps no content."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import DateTime, ForeignKey, Index, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class OutboxMessage(Base):
    """One message to send.

    A message to a person (``subject_id`` set) is sealed under that person's own data key, so
    erasing them shreds it; any other message (to staff) carries its own data key, wrapped by the
    master keyring. Once delivered, ``envelope`` and ``wrapped_key`` are cleared: only kind,
    purpose, times and status remain. A finally failed message keeps its ciphertext so that an
    operator can retry it; erasing its person shreds it like a queued one.
    """

    __tablename__ = "mail_outbox"
    __table_args__ = (Index("ix_mail_outbox_status_next", "status", "next_attempt_at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str | None] = mapped_column(ForeignKey("subjects.id"), index=True)
    kind: Mapped[str] = mapped_column(String(40), doc="What the message is, e.g. change_notice.")
    purpose: Mapped[str | None] = mapped_column(String(200), doc="The data use it serves.")
    key_id: Mapped[str | None] = mapped_column(String(32), doc="Master key of wrapped_key.")
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary, doc="Own key (not a person's).")
    envelope: Mapped[bytes | None] = mapped_column(
        LargeBinary, doc="Encrypted JSON: recipient address, subject line, text and HTML bodies."
    )
    status: Mapped[str] = mapped_column(String(16), doc="queued, sent, failed or shredded.")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    next_attempt_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    sent_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    failed_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    last_error: Mapped[str | None] = mapped_column(
        String(300), doc="The transport's error class and code; never an address or a body."
    )

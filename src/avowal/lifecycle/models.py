"""Tables of published policy versions, change notifications and acceptances."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class PolicyVersion(Base):
    """One version of the policy, identified by the hash of its content; never changed."""

    __tablename__ = "policy_versions"

    version_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    effective: Mapped[dt.date] = mapped_column(doc="The day it takes effect, as announced.")
    effective_at: Mapped[dt.datetime] = mapped_column(
        DateTime(timezone=True), index=True, doc="The moment servers start enforcing it."
    )
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    published_by: Mapped[str] = mapped_column(String(200))
    summary: Mapped[str | None] = mapped_column(Text)
    previous_id: Mapped[str | None] = mapped_column(
        String(64), doc="The version in effect (or last announced) when this one was published."
    )
    material: Mapped[bool] = mapped_column(
        Boolean, default=False, doc="A material change against the previous version."
    )
    changes: Mapped[list[dict[str, object]]] = mapped_column(
        JSON, doc="The structured changes against the previous version, classified."
    )
    # The two large columns load on first access only: listings, the page's version note and the
    # schedule the servers poll never read them.
    source: Mapped[str] = mapped_column(Text, deferred=True, doc="The YAML text as written.")
    document: Mapped[dict[str, object]] = mapped_column(
        JSON, deferred=True, doc="The validated policy as JSON."
    )


class ChangeNotification(Base):
    """A person was told of a version before it took effect (by e-mail, or the banner)."""

    __tablename__ = "change_notifications"
    __table_args__ = (UniqueConstraint("subject_id", "version_id", "via"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("policy_versions.version_id"))
    via: Mapped[str] = mapped_column(String(16), doc="email or banner.")
    message_id: Mapped[str | None] = mapped_column(String(36), doc="The outbox message, if mail.")
    notified_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Acceptance(Base):
    """A person accepted a version: explicitly, or by continued use once notified."""

    __tablename__ = "policy_acceptances"
    __table_args__ = (UniqueConstraint("subject_id", "version_id"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    version_id: Mapped[str] = mapped_column(ForeignKey("policy_versions.version_id"))
    method: Mapped[str] = mapped_column(String(16), doc="explicit or continued_use.")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    shown: Mapped[dict[str, object]] = mapped_column(
        JSON, doc="What the person was shown: the version, its changes' digest, the notice."
    )
    actor: Mapped[str] = mapped_column(String(200), doc="Who recorded it (a back end's token).")

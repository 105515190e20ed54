"""Tables of published policy versions."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, DateTime, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class PolicyVersion(Base):
    """One version of the policy, identified by the hash of its content; never changed."""

    __tablename__ = "policy_versions"

    version_id: Mapped[str] = mapped_column(String(64), primary_key=True)
    effective: Mapped[dt.date] = mapped_column()
    published_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    source: Mapped[str] = mapped_column(Text, doc="The YAML text as written.")
    document: Mapped[dict[str, object]] = mapped_column(JSON, doc="The validated policy as JSON.")

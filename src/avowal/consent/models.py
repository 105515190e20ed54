"""Cookie consent records (no IP, no user agent), their links to people, and scans."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import JSON, Boolean, DateTime, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class CookieConsent(Base):
    """One choice made in the banner (or by Global Privacy Control), with its signed receipt."""

    __tablename__ = "cookie_consents"
    __table_args__ = (Index("ix_cookie_consents_consent_id_at", "consent_id", "at"),)

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(32), doc="The random id in the consent cookie.")
    banner_version: Mapped[str] = mapped_column(String(12), doc="Hash of what the banner showed.")
    granted: Mapped[list[str]] = mapped_column(JSON, doc="Categories consented to.")
    refused: Mapped[list[str]] = mapped_column(JSON, doc="Categories refused.")
    method: Mapped[str] = mapped_column(String(16), doc="banner, settings or gpc.")
    gpc: Mapped[bool] = mapped_column(Boolean, doc="The browser sent Global Privacy Control.")
    language: Mapped[str] = mapped_column(String(8))
    path: Mapped[str] = mapped_column(String(300), doc="The page's path, scrubbed, no query.")
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    receipt: Mapped[dict[str, object]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(Text)


class CookieConsentLink(Base):
    """A site's back end said this consent id is this person's: the proof follows the person."""

    __tablename__ = "cookie_consent_links"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    consent_id: Mapped[str] = mapped_column(String(32), index=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    actor: Mapped[str] = mapped_column(String(200))


class CookieScan(Base):
    """One run of `avowal cookies scan`: what it visited, what it found, and whether it passed."""

    __tablename__ = "cookie_scans"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    urls: Mapped[list[str]] = mapped_column(JSON)
    findings: Mapped[list[dict[str, object]]] = mapped_column(JSON)
    ok: Mapped[bool] = mapped_column(Boolean)

"""Vault tables. Personal values exist only as ciphertext under the person's own data key."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    String,
    Text,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base


class Subject(Base):
    """A person. After erasure only the tombstone (id, times) remains; the key is gone."""

    __tablename__ = "subjects"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    ref: Mapped[str | None] = mapped_column(String(200), unique=True)
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    erased_at: Mapped[dt.datetime | None] = mapped_column(DateTime(timezone=True))
    key_id: Mapped[str | None] = mapped_column(String(32), index=True)
    wrapped_key: Mapped[bytes | None] = mapped_column(LargeBinary)
    last_activity_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), doc="Last collection or sign-in: starts last_activity periods."
    )
    closed_at: Mapped[dt.datetime | None] = mapped_column(
        DateTime(timezone=True), doc="When the site said the account was closed (first time)."
    )


class Receipt(Base):
    """The signed record of one collection: what notice the person saw, what they gave."""

    __tablename__ = "receipts"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    point: Mapped[str] = mapped_column(String(64))
    notice_id: Mapped[str] = mapped_column(String(64))
    policy_version: Mapped[str] = mapped_column(String(64))
    document: Mapped[dict[str, object]] = mapped_column(JSON)
    signature: Mapped[str] = mapped_column(Text)


class PersonalValue(Base):
    """One field's current value, encrypted; a new collection of the field replaces it."""

    __tablename__ = "personal_values"
    __table_args__ = (UniqueConstraint("subject_id", "point", "field"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    receipt_id: Mapped[str] = mapped_column(ForeignKey("receipts.id"))
    point: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    purposes: Mapped[list[str]] = mapped_column(
        JSON, doc="Copied from the receipt: reads check it."
    )
    recipients: Mapped[list[str]] = mapped_column(JSON, doc="Copied from the receipt.")
    notice_id: Mapped[str] = mapped_column(String(64))
    ciphertext: Mapped[bytes | None] = mapped_column(LargeBinary, doc="None under storage 'none'.")
    collected_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class BlindIndex(Base):
    """A keyed digest of a lookup field, so a person can be found without decrypting anyone."""

    __tablename__ = "blind_index"
    __table_args__ = (Index("ix_blind_index_field_digest", "field", "digest"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    point: Mapped[str] = mapped_column(String(64))
    field: Mapped[str] = mapped_column(String(64))
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))


class Disclosure(Base):
    """The register of every disclosure of a person's data to a recipient."""

    __tablename__ = "disclosures"

    id: Mapped[str] = mapped_column(String(36), primary_key=True)
    subject_id: Mapped[str] = mapped_column(ForeignKey("subjects.id"), index=True)
    recipient: Mapped[str] = mapped_column(String(64))
    purpose: Mapped[str] = mapped_column(String(200))
    fields: Mapped[list[str]] = mapped_column(JSON)
    receipt_ids: Mapped[list[str]] = mapped_column(JSON)
    actor: Mapped[str] = mapped_column(String(200))
    at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class RetentionRun(Base):
    """One pass of the retention rules over the vault: when, and how much it destroyed."""

    __tablename__ = "retention_runs"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    started_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), index=True)
    finished_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    values_destroyed: Mapped[int] = mapped_column(Integer)
    purposes_removed: Mapped[int] = mapped_column(Integer)
    people: Mapped[int] = mapped_column(Integer, doc="People whose values were changed.")

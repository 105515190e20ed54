"""Queries of cookie consent records and their links to people."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from avowal.consent.models import CookieConsent, CookieConsentLink
from avowal.db import engine as db


def history(session: Session, consent_id: str) -> Sequence[CookieConsent]:
    """Return the choices recorded under a consent id, newest first."""
    stmt = (
        select(CookieConsent)
        .where(CookieConsent.consent_id == consent_id)
        .order_by(CookieConsent.at.desc(), CookieConsent.id)
    )
    return session.scalars(stmt).all()


def latest(session: Session, consent_id: str) -> CookieConsent | None:
    """Return the last choice recorded under a consent id."""
    stmt = (
        select(CookieConsent)
        .where(CookieConsent.consent_id == consent_id)
        .order_by(CookieConsent.at.desc())
        .limit(1)
    )
    return session.scalars(stmt).first()


def link(session: Session, subject_id: str, consent_id: str) -> CookieConsentLink | None:
    """Return the link of a consent id to a person, if made."""
    stmt = select(CookieConsentLink).where(
        CookieConsentLink.subject_id == subject_id, CookieConsentLink.consent_id == consent_id
    )
    return session.scalars(stmt).first()


def links_of(session: Session, subject_id: str) -> Sequence[CookieConsentLink]:
    """Return a person's linked consent ids, oldest link first."""
    stmt = (
        select(CookieConsentLink)
        .where(CookieConsentLink.subject_id == subject_id)
        .order_by(CookieConsentLink.at, CookieConsentLink.id)
    )
    return session.scalars(stmt).all()


def delete_links(session: Session, subject_id: str) -> None:
    """Delete every link of a person's to consent ids."""
    db.core(session).execute(
        delete(CookieConsentLink).where(CookieConsentLink.subject_id == subject_id)
    )

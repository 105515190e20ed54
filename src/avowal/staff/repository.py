"""Queries of the staff tables; nothing here commits."""

from __future__ import annotations

import datetime as dt

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from avowal.lib.clock import aware
from avowal.staff.models import Acknowledgement, Enrolment, LoginAttempt, StaffAccount, StaffSession


def account_by_email(session: Session, email: str) -> StaffAccount | None:
    """Return the account of a normalised (lower-case) e-mail address."""
    return session.scalar(select(StaffAccount).where(StaffAccount.email == email))


def account(session: Session, account_id: int) -> StaffAccount | None:
    """Return an account by id."""
    return session.get(StaffAccount, account_id)


def accounts(session: Session) -> list[StaffAccount]:
    """Return every account, by e-mail."""
    return list(session.scalars(select(StaffAccount).order_by(StaffAccount.email)))


def enrolment_by_hash(session: Session, token_hash: str) -> Enrolment | None:
    """Return the enrolment whose token hashes to ``token_hash``."""
    return session.scalar(select(Enrolment).where(Enrolment.token_hash == token_hash))


def close_enrolments(session: Session, account_id: int, now: dt.datetime) -> None:
    """Mark every unused enrolment link of an account as used."""
    session.execute(
        update(Enrolment)
        .where(Enrolment.account_id == account_id, Enrolment.used_at.is_(None))
        .values(used_at=now)
    )


def session_by_hash(session: Session, id_hash: str) -> StaffSession | None:
    """Return the staff session whose id hashes to ``id_hash``."""
    return session.get(StaffSession, id_hash)


def end_sessions(session: Session, account_id: int, now: dt.datetime) -> int:
    """End every open session of an account; return how many were open."""
    result = session.execute(
        update(StaffSession)
        .where(StaffSession.account_id == account_id, StaffSession.ended_at.is_(None))
        .values(ended_at=now)
        .execution_options(synchronize_session="fetch")
    )
    return int(getattr(result, "rowcount", 0) or 0)


def failure_times(
    session: Session,
    *,
    account_hash: str | None = None,
    address_hash: str | None = None,
    since: dt.datetime,
) -> list[dt.datetime]:
    """Return the times of failed sign-ins of an account key or address key since ``since``."""
    query = select(LoginAttempt.at).where(LoginAttempt.success.is_(False), LoginAttempt.at > since)
    if account_hash is not None:
        query = query.where(LoginAttempt.account_hash == account_hash)
    if address_hash is not None:
        query = query.where(LoginAttempt.address_hash == address_hash)
    return list(session.scalars(query.order_by(LoginAttempt.at)))


def failing_accounts(session: Session, address_hash: str, since: dt.datetime) -> list[dt.datetime]:
    """Return, oldest first, when each account key first failed from an address since ``since``.

    One time per account: many failures for one account count once.
    """
    first = func.min(LoginAttempt.at)
    query = (
        select(first)
        .where(
            LoginAttempt.address_hash == address_hash,
            LoginAttempt.success.is_(False),
            LoginAttempt.at > since,
        )
        .group_by(LoginAttempt.account_hash)
    )
    return sorted(session.scalars(query), key=aware)


def last_success(
    session: Session, account_hash: str, address_hash: str | None = None
) -> dt.datetime | None:
    """Return the time of the last successful sign-in of an account key (from an address)."""
    query = select(func.max(LoginAttempt.at)).where(
        LoginAttempt.account_hash == account_hash, LoginAttempt.success.is_(True)
    )
    if address_hash is not None:
        query = query.where(LoginAttempt.address_hash == address_hash)
    return session.scalar(query)


def has_acknowledged(session: Session, account_id: int, version: str) -> bool:
    """Tell whether an account acknowledged a version of the confidentiality agreement."""
    found = session.scalar(
        select(Acknowledgement.id).where(
            Acknowledgement.account_id == account_id, Acknowledgement.version == version
        )
    )
    return found is not None


def last_acknowledged(session: Session) -> dict[int, str]:
    """Return, per account id, the version of its latest acknowledgement."""
    rows = session.execute(
        select(Acknowledgement.account_id, Acknowledgement.version).order_by(
            Acknowledgement.at, Acknowledgement.id
        )
    )
    return {row.account_id: row.version for row in rows}

"""Lines of evidence under the page's promises, from avowal's own records, as aggregates only.

Every count goes through :func:`count`, so that no figure below the threshold is ever shown:
nothing can be learned about one person from the page.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from avowal.analytics.models import Salt
from avowal.audit.models import AuditVerification
from avowal.consent import scan_store
from avowal.legal.models import LegalRequest
from avowal.lib import clock
from avowal.policy import wording as w
from avowal.policy.loader import LoadedPolicy
from avowal.staff.models import Acknowledgement, StaffAccount
from avowal.vault import retention as vault_retention
from avowal.vault.models import Disclosure

THRESHOLD = 5
DISCLOSURE_DAYS = 90
LEGAL_DAYS = 365


@dataclass(frozen=True)
class EvidenceLine:
    """One sentence of evidence shown under a promise; ``flagged`` when it is a warning."""

    text: str
    flagged: bool = False


Evidence = Callable[[Session, LoadedPolicy, dt.datetime], EvidenceLine | None]


def count(n: int) -> str:
    """Show a count, or "fewer than 5" below the threshold (zero included)."""
    return f"fewer than {THRESHOLD}" if n < THRESHOLD else str(n)


def day(when: dt.datetime) -> str:
    """Show a time as the day it fell on, in UTC."""
    return w.date(clock.aware(when).date())


def audit_chain(session: Session, _: LoadedPolicy, __: dt.datetime) -> EvidenceLine | None:
    """Say when the audit chain was last verified, how many entries, how long it took."""
    last = session.scalars(
        select(AuditVerification).order_by(AuditVerification.at.desc()).limit(1)
    ).first()
    if last is None:
        return EvidenceLine("The audit chain has not been verified yet.", flagged=True)
    outcome = "intact" if last.ok else "BROKEN"
    return EvidenceLine(
        f"Audit chain last verified on {day(last.at)}: {count(last.entries)} entries checked "
        f"in {last.seconds:.1f} s, {outcome}.",
        flagged=not last.ok,
    )


def disclosures(session: Session, loaded: LoadedPolicy, now: dt.datetime) -> EvidenceLine | None:
    """Count the disclosures to each outside party of the last 90 days."""
    recipients = loaded.policy.recipients
    if not recipients:
        return None
    since = now - dt.timedelta(days=DISCLOSURE_DAYS)
    rows = session.execute(
        select(Disclosure.recipient, func.count())
        .where(Disclosure.at >= since)
        .group_by(Disclosure.recipient)
    )
    found = {name: int(n) for name, n in rows}
    parts = [f"{rec.name}: {count(found.get(name, 0))}" for name, rec in recipients.items()]
    return EvidenceLine(
        f"Disclosures to outside parties in the last {DISCLOSURE_DAYS} days: {'; '.join(parts)}."
    )


def legal_requests(session: Session, _: LoadedPolicy, now: dt.datetime) -> EvidenceLine | None:
    """Count the legal requests answered (exported or rejected) in the last 12 months."""
    since = now - dt.timedelta(days=LEGAL_DAYS)
    answered = session.scalar(
        select(func.count())
        .select_from(LegalRequest)
        .where(LegalRequest.status.in_(("exported", "rejected")))
        .where(LegalRequest.decided_at >= since)
    )
    return EvidenceLine(f"Legal requests answered in the last 12 months: {count(answered or 0)}.")


def never_sold(_: Session, loaded: LoadedPolicy, __: dt.datetime) -> EvidenceLine | None:
    """Say that no sale is possible: the policy was checked for buyers and sharing when loaded."""
    return EvidenceLine(
        "Sales: none possible. This policy (the version of "
        f"{w.date(loaded.policy.policy.effective)}) names no buyer "
        "or sharing partner and no selling use; that is checked at every publish."
    )


def salts(session: Session, _: LoadedPolicy, __: dt.datetime) -> EvidenceLine | None:
    """Show the oldest visitor-code salt still kept (older ones are destroyed after 48 h)."""
    oldest = session.scalar(select(func.min(Salt.day)))
    if oldest is None:
        return EvidenceLine("No visitor-code salt is kept at the moment.")
    return EvidenceLine(
        f"Oldest visitor-code salt kept: for {w.date(oldest)}; each is destroyed 48 hours "
        "after its day began."
    )


def acknowledgements(
    session: Session, loaded: LoadedPolicy, now: dt.datetime
) -> EvidenceLine | None:
    """Count the active staff accounts that accepted the current confidentiality agreement."""
    version = loaded.policy.staff.confidentiality.version
    active = (StaffAccount.disabled_at.is_(None)) & (
        StaffAccount.expires_at.is_(None) | (StaffAccount.expires_at > now)
    )
    total = session.scalar(select(func.count()).select_from(StaffAccount).where(active)) or 0
    acked = (
        session.scalar(
            select(func.count(func.distinct(Acknowledgement.account_id)))
            .join(StaffAccount, StaffAccount.id == Acknowledgement.account_id)
            .where(active, Acknowledgement.version == version)
        )
        or 0
    )
    return EvidenceLine(
        f"Staff accounts that accepted the current agreement (version {version}): "
        f"{count(acked)} of {count(total)} active."
    )


def cookie_scan(session: Session, _: LoadedPolicy, __: dt.datetime) -> EvidenceLine | None:
    """Say when the site was last scanned for cookies, how many pages, and what it found."""
    last = scan_store.last(session)
    if last is None:
        return EvidenceLine("No cookie scan of this site is recorded yet.", flagged=True)
    if last.ok:
        return EvidenceLine(
            f"Last cookie scan on {day(last.at)}: {len(last.urls)} page(s) before any choice, "
            "after refusing and after accepting; only declared cookies, none before consent."
        )
    return EvidenceLine(
        f"Last cookie scan on {day(last.at)} found {len(last.findings)} cookie(s) or stored "
        "item(s) this policy does not allow.",
        flagged=True,
    )


def retention(session: Session, _: LoadedPolicy, __: dt.datetime) -> EvidenceLine | None:
    """Say when the retention rules were last applied to the data we hold (no figure)."""
    last = vault_retention.last_run(session)
    if last is None:
        return EvidenceLine("The retention periods have not been applied yet.", flagged=True)
    return EvidenceLine(
        f"Retention periods last applied to the data we hold on {day(last.started_at)}."
    )

"""Break-glass: time-boxed access for operations, any purpose, justified, audited and flagged.

The policy reserves the right "to operate our systems properly or to protect our rights and
property" (``legal_disclosures.grounds``); a grant is only possible when it does. While a grant
runs, its holder acts as a caller granted every top-level data use of the taxonomy, under a name
that carries the grant id, so every audit entry made under it is flagged and the internal review
finds them. Values stay bound to their notices: break-glass lifts the role's limits, not the
vault's purpose check on each value.
"""

from __future__ import annotations

import datetime as dt
import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.legal.exceptions import (
    AccountInactive,
    BreakGlassExpired,
    BreakGlassNotFound,
    BreakGlassRefused,
)
from avowal.legal.models import BreakGlass
from avowal.legal.schemas import BreakGlassRead
from avowal.legal.service import LEGAL_PURPOSE, require_active, staff_caller
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.settings import Settings
from avowal.staff.models import StaffAccount

MIN_JUSTIFICATION = 20
MAX_JUSTIFICATION = 2000
GROUNDS = ("operate_systems", "protect_rights")
# Leaves room for the marker in the audit's 200-character actor column.
_EMAIL_IN_NAME = 140


def marker(grant_id: str) -> str:
    """Return the tag that ends the actor name of every audit entry made under a grant."""
    return f"[break-glass {grant_id}]"


def caller_name(email: str, grant_id: str) -> str:
    """Return the name a break-glass caller acts under (the audit's actor)."""
    return f"{email[:_EMAIL_IN_NAME]} {marker(grant_id)}"


def state(grant: BreakGlass, now: dt.datetime) -> str:
    """Return 'active', 'ended' (closed early by hand) or 'expired'."""
    if grant.ended_at is not None:
        return "ended"
    return "active" if now < clock.aware(grant.expires_at) else "expired"


def active_grant(
    session: Session, account: StaffAccount, now: dt.datetime | None = None
) -> BreakGlass | None:
    """Return the account's running grant, if any."""
    now = clock.current(now)
    stmt = (
        select(BreakGlass)
        .where(BreakGlass.account_id == account.id, BreakGlass.ended_at.is_(None))
        .order_by(BreakGlass.expires_at.desc())
    )
    for grant in session.scalars(stmt):
        if state(grant, now) == "active":
            return grant
    return None


def start(
    session: Session,
    loaded: LoadedPolicy,
    settings: Settings,
    account: StaffAccount,
    justification: str,
    minutes: int,
    now: dt.datetime | None = None,
) -> BreakGlass:
    """Open a grant for ``minutes`` with a stated justification; audit it."""
    now = clock.current(now)
    require_active(account, now)
    grounds = loaded.policy.legal_disclosures.grounds
    if not any(g in grounds for g in GROUNDS):
        raise BreakGlassRefused(
            "the policy does not reserve access to operate systems or protect rights "
            "(legal_disclosures.grounds), so no break-glass access is possible",
            grounds=list(grounds),
        )
    text = justification.strip()
    if len(text) < MIN_JUSTIFICATION:
        raise BreakGlassRefused(
            f"state why in at least {MIN_JUSTIFICATION} characters (the review shows it)",
            field="justification",
        )
    if len(text) > MAX_JUSTIFICATION:
        raise BreakGlassRefused(
            f"a justification is at most {MAX_JUSTIFICATION} characters", field="justification"
        )
    longest = settings.break_glass_max_minutes
    if not 1 <= minutes <= longest:
        raise BreakGlassRefused(
            f"a break-glass grant lasts 1 to {longest} minutes, not {minutes}",
            field="minutes",
            max_minutes=longest,
        )
    running = active_grant(session, account, now)
    if running is not None:
        raise BreakGlassRefused(
            f"grant {running.id} is still running until "
            f"{clock.aware(running.expires_at).isoformat()}; end it before starting another",
            grant_id=running.id,
        )
    grant = BreakGlass(
        id=str(uuid.uuid4()),
        account_id=account.id,
        justification=text,
        started_at=now,
        expires_at=now + dt.timedelta(minutes=minutes),
    )
    session.add(grant)
    audit.append(
        session,
        audit.Event(
            actor=caller_name(account.email, grant.id),
            role=account.role,
            action="break_glass_start",
            reason=text,
        ),
    )
    return grant


def get_grant(session: Session, grant_id: str) -> BreakGlass:
    """Return a grant by id."""
    grant = session.get(BreakGlass, grant_id)
    if grant is None:
        raise BreakGlassNotFound(f"no break-glass grant {grant_id}", grant_id=grant_id)
    return grant


def caller_for_break_glass(
    session: Session,
    loaded: LoadedPolicy,
    account: StaffAccount,
    grant: BreakGlass,
    now: dt.datetime | None = None,
) -> Caller:
    """Return a caller granted every data use while the grant runs; refuse (audited) after.

    Pass the grant as loaded in ``session`` (see :func:`get_grant`), so an end recorded by
    another request is seen.
    """
    now = clock.current(now)
    name = caller_name(account.email, grant.id)
    exc: AvowalError | None = None
    if grant.account_id != account.id:
        exc = BreakGlassExpired(
            f"break-glass grant {grant.id} belongs to another account", grant_id=grant.id
        )
    elif state(grant, now) != "active":
        over = grant.ended_at if grant.ended_at is not None else grant.expires_at
        exc = BreakGlassExpired(
            f"break-glass grant {grant.id} is over since {clock.aware(over).isoformat()}",
            grant_id=grant.id,
        )
    else:
        try:
            require_active(account, now)
        except AccountInactive as inactive:
            exc = inactive
    if exc is not None:
        raise audit.refuse(session, exc, actor=name, role=account.role, action="break_glass_use")
    purposes = tuple(sorted(k for k in loaded.taxonomy.data_uses if "." not in k))
    return Caller(name=name, role=account.role, purposes=purposes)


def end(
    session: Session,
    loaded: LoadedPolicy,
    account: StaffAccount,
    grant_id: str,
    now: dt.datetime | None = None,
) -> BreakGlass:
    """Close a running grant early: its holder, or a privacy officer, may."""
    now = clock.current(now)
    grant = get_grant(session, grant_id)
    if grant.account_id != account.id and not staff_caller(loaded, account).grants(LEGAL_PURPOSE):
        raise BreakGlassRefused(
            "only the holder of a grant or a privacy officer may end it", grant_id=grant.id
        )
    if state(grant, now) != "active":
        raise BreakGlassExpired(f"break-glass grant {grant.id} is already over", grant_id=grant.id)
    grant.ended_at = now
    holder = session.get(StaffAccount, grant.account_id)
    audit.append(
        session,
        audit.Event(
            actor=caller_name(holder.email if holder else account.email, grant.id),
            role=holder.role if holder else account.role,
            action="break_glass_end",
            reason=grant.justification
            if grant.account_id == account.id
            else f"ended by {account.email}: {grant.justification}",
        ),
    )
    return grant


def describe(grant: BreakGlass, email: str, now: dt.datetime | None = None) -> BreakGlassRead:
    """Return a grant as the console shows it."""
    return BreakGlassRead(
        id=grant.id,
        account=email,
        justification=grant.justification,
        started_at=clock.aware(grant.started_at),
        expires_at=clock.aware(grant.expires_at),
        ended_at=clock.aware(grant.ended_at) if grant.ended_at else None,
        state=state(grant, clock.current(now)),
        caller_name=caller_name(email, grant.id),
    )


def list_grants(
    session: Session, now: dt.datetime | None = None, since: dt.datetime | None = None
) -> list[BreakGlassRead]:
    """Return grants still running at or started after ``since`` (all without), newest first."""
    now = clock.current(now)
    stmt = (
        select(BreakGlass, StaffAccount.email)
        .join(StaffAccount, StaffAccount.id == BreakGlass.account_id)
        .order_by(BreakGlass.started_at.desc(), BreakGlass.id)
    )
    if since is not None:
        stmt = stmt.where(BreakGlass.expires_at >= since)
    return [describe(g, email, now) for g, email in session.execute(stmt)]

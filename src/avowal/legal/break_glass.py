"""Break-glass: time-boxed access for operations, any purpose, justified, audited and flagged.

The policy reserves the right "to operate our systems properly or to protect our rights and
property" (``legal_disclosures.grounds``); a grant is only possible when it does, and only for
the roles and kinds of staff its ``staff.break_glass`` section names, for at most ``max_minutes``.
Everyone else is refused (403), and the refusal is audited. With ``approval_required`` a grant
waits until a second person (another account, of a role listed under ``approvers``) approves it.
The roles under ``notify`` are told at once: a ``break_glass_notify`` entry in the audit chain,
and the grant listed on their console home page and break-glass page (there is no mail yet).

While a grant runs, its holder acts as a caller granted every top-level data use of the taxonomy,
under a name that carries the grant id, so every audit entry made under it is flagged and the
internal review finds them. Values stay bound to their notices: break-glass lifts the role's
limits, not the vault's purpose check on each value.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import math
import uuid
from typing import Any, cast

from sqlalchemy import CursorResult, select, update
from sqlalchemy.orm import Session, aliased

from avowal.audit import service as audit
from avowal.callers.service import Caller
from avowal.legal.exceptions import (
    AccountInactive,
    BreakGlassExpired,
    BreakGlassNotAllowed,
    BreakGlassNotFound,
    BreakGlassRefused,
)
from avowal.legal.models import BreakGlass
from avowal.legal.schemas import BreakGlassRead
from avowal.lib import clock
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import BREAK_GLASS_GROUNDS
from avowal.policy.schemas import BreakGlass as BreakGlassRule
from avowal.policy.taxonomy import LEGAL_OBLIGATION
from avowal.staff import service as staff
from avowal.staff.models import StaffAccount

MIN_JUSTIFICATION = 20
MAX_JUSTIFICATION = 2000
GROUNDS = BREAK_GLASS_GROUNDS
# The audit actor of the notices sent to the roles the policy names (staff.break_glass.notify).
NOTIFIER = "avowal"
# Leaves room for the marker in the audit's 200-character actor column.
_EMAIL_IN_NAME = 140


def marker(grant_id: str) -> str:
    """Return the tag that ends the actor name of every audit entry made under a grant."""
    return f"[break-glass {grant_id}]"


def caller_name(email: str, grant_id: str) -> str:
    """Return the name a break-glass caller acts under (the audit's actor)."""
    return f"{email[:_EMAIL_IN_NAME]} {marker(grant_id)}"


def rule(loaded: LoadedPolicy) -> BreakGlassRule:
    """Return the policy's break-glass rule (who, how long, approval, who is told)."""
    return loaded.policy.staff.break_glass


def state(grant: BreakGlass, now: dt.datetime) -> str:
    """Return 'pending' (awaiting approval), 'active', 'ended' (closed by hand) or 'expired'."""
    if grant.ended_at is not None:
        return "ended"
    if now >= clock.aware(grant.expires_at):
        return "expired"
    if grant.needs_approval and grant.approved_at is None:
        return "pending"
    return "active"


def minutes_left(grant: BreakGlass | None, now: dt.datetime | None = None) -> int | None:
    """Return the whole minutes a grant still runs (at least 1 while it runs)."""
    if grant is None:
        return None
    left = (clock.aware(grant.expires_at) - clock.current(now)).total_seconds()
    return max(1, math.ceil(left / 60))


def _open_grants(session: Session, account: StaffAccount) -> list[BreakGlass]:
    stmt = (
        select(BreakGlass)
        .where(BreakGlass.account_id == account.id, BreakGlass.ended_at.is_(None))
        .order_by(BreakGlass.expires_at.desc())
    )
    return list(session.scalars(stmt))


def active_grant(
    session: Session, account: StaffAccount, now: dt.datetime | None = None
) -> BreakGlass | None:
    """Return the account's running grant, if any."""
    now = clock.current(now)
    return next((g for g in _open_grants(session, account) if state(g, now) == "active"), None)


def pending_grant(
    session: Session, account: StaffAccount, now: dt.datetime | None = None
) -> BreakGlass | None:
    """Return the account's grant awaiting approval, if any."""
    now = clock.current(now)
    return next((g for g in _open_grants(session, account) if state(g, now) == "pending"), None)


def may_open(loaded: LoadedPolicy, account: StaffAccount) -> bool:
    """Tell whether the policy lets this account's role and kind open break-glass access."""
    allowed = rule(loaded)
    return account.role in allowed.roles and account.kind in allowed.kinds


def _not_allowed(loaded: LoadedPolicy, account: StaffAccount) -> BreakGlassNotAllowed | None:
    allowed = rule(loaded)
    roles = ", ".join(allowed.roles) or "none"
    if account.role not in allowed.roles:
        return BreakGlassNotAllowed(
            f"the policy lets only these roles open break-glass access: {roles} "
            f"(staff.break_glass.roles), not '{account.role}'",
            role=account.role,
            allowed_roles=list(allowed.roles),
        )
    if account.kind not in allowed.kinds:
        kinds = ", ".join(k.value for k in allowed.kinds)
        return BreakGlassNotAllowed(
            f"the policy lets only these kinds of staff open break-glass access: {kinds} "
            f"(staff.break_glass.kinds), not {account.kind}s",
            kind=account.kind,
            allowed_kinds=[k.value for k in allowed.kinds],
        )
    return None


def _check_grounds(loaded: LoadedPolicy) -> None:
    grounds = loaded.policy.legal_disclosures.grounds
    if not any(g in grounds for g in GROUNDS):
        raise BreakGlassRefused(
            "the policy does not reserve access to operate systems or protect rights "
            "(legal_disclosures.grounds), so no break-glass access is possible",
            grounds=list(grounds),
        )


def _notify(session: Session, grant: BreakGlass, holder: StaffAccount, what: str) -> None:
    """Tell the roles the policy names at once: a durable entry the console and review show."""
    if not grant.notified:
        return
    audit.append(
        session,
        audit.Event(
            actor=NOTIFIER,
            role="system",
            action="break_glass_notify",
            reason=f"to {', '.join(grant.notified)}: {holder.email} ({holder.role}) {what} "
            f"break-glass grant {grant.id} for {grant.minutes} minutes: {grant.justification}",
        ),
    )


def start(
    session: Session,
    loaded: LoadedPolicy,
    account: StaffAccount,
    justification: str,
    minutes: int,
    now: dt.datetime | None = None,
) -> BreakGlass:
    """Open a grant for ``minutes`` with a stated justification (or ask for it); audit it.

    Refuses, audited, anyone the policy's ``staff.break_glass`` does not name. When the policy
    requires approval the grant is 'pending' until :func:`approve`.
    """
    now = clock.current(now)
    staff.require_active(account, now)
    _check_grounds(loaded)
    refusal = _not_allowed(loaded, account)
    if refusal is not None:
        raise audit.refuse(
            session, refusal, actor=account.email, role=account.role, action="break_glass_start"
        )
    allowed = rule(loaded)
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
    longest = allowed.max_minutes
    if not 1 <= minutes <= longest:
        raise BreakGlassRefused(
            f"a break-glass grant lasts 1 to {longest} minutes, not {minutes} "
            "(staff.break_glass.max_minutes)",
            field="minutes",
            max_minutes=longest,
        )
    running = active_grant(session, account, now) or pending_grant(session, account, now)
    if running is not None:
        shown = "running" if state(running, now) == "active" else "awaiting approval"
        raise BreakGlassRefused(
            f"grant {running.id} is still {shown} until "
            f"{clock.aware(running.expires_at).isoformat()}; end it before starting another",
            grant_id=running.id,
        )
    grant = BreakGlass(
        id=str(uuid.uuid4()),
        account_id=account.id,
        justification=text,
        started_at=now,
        expires_at=now + dt.timedelta(minutes=minutes),
        minutes=minutes,
        needs_approval=allowed.approval_required,
        notified=list(allowed.notify),
    )
    session.add(grant)
    session.flush()
    audit.append(
        session,
        audit.Event(
            actor=caller_name(account.email, grant.id),
            role=account.role,
            action="break_glass_request" if grant.needs_approval else "break_glass_start",
            reason=text,
        ),
    )
    _notify(session, grant, account, "asks for approval of" if grant.needs_approval else "opened")
    return grant


def approve(
    session: Session,
    loaded: LoadedPolicy,
    approver: StaffAccount,
    grant_id: str,
    now: dt.datetime | None = None,
) -> BreakGlass:
    """Approve a pending grant as a second person of a role the policy names; it opens now."""
    now = clock.current(now)
    staff.require_active(approver, now)
    grant = get_grant(session, grant_id)
    allowed = rule(loaded)
    refusal: AvowalError | None = None
    if grant.account_id == approver.id:
        refusal = BreakGlassNotAllowed(
            f"break-glass grant {grant.id}: a second person must approve it, never its holder",
            grant_id=grant.id,
        )
    elif approver.role not in allowed.approvers:
        refusal = BreakGlassNotAllowed(
            "the policy lets only these roles approve break-glass access: "
            f"{', '.join(allowed.approvers) or 'none'} (staff.break_glass.approvers), "
            f"not '{approver.role}'",
            role=approver.role,
            approvers=list(allowed.approvers),
        )
    if refusal is not None:
        raise audit.refuse(
            session,
            refusal,
            actor=approver.email,
            role=approver.role,
            action="break_glass_approve",
        )
    current = state(grant, now)
    if current != "pending":
        raise BreakGlassRefused(
            f"break-glass grant {grant.id} is {current}, not awaiting approval",
            grant_id=grant.id,
            state=current,
        )
    minutes = grant.minutes or allowed.max_minutes
    opened = session.execute(
        update(BreakGlass)
        .where(
            BreakGlass.id == grant.id,
            BreakGlass.approved_at.is_(None),
            BreakGlass.ended_at.is_(None),
        )
        .values(
            approved_by=approver.id,
            approved_at=now,
            started_at=now,
            expires_at=now + dt.timedelta(minutes=minutes),
        )
        .execution_options(synchronize_session=False)
    )
    if cast(CursorResult[Any], opened).rowcount != 1:
        # Someone else approved or ended it in the meantime.
        raise BreakGlassRefused(
            f"break-glass grant {grant.id} was decided on meanwhile", grant_id=grant.id
        )
    session.refresh(grant)
    holder = session.get(StaffAccount, grant.account_id)
    assert holder is not None  # a foreign key
    audit.append_many(
        session,
        [
            audit.Event(
                actor=approver.email,
                role=approver.role,
                action="break_glass_approve",
                reason=f"grant {grant.id} of {holder.email}: {grant.justification}",
            ),
            audit.Event(
                actor=caller_name(holder.email, grant.id),
                role=holder.role,
                action="break_glass_start",
                reason=f"approved by {approver.email}: {grant.justification}",
            ),
        ],
    )
    _notify(session, grant, holder, f"was approved by {approver.email} and opened")
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
    another request is seen. The policy must still let the holder's role and kind use it.
    """
    now = clock.current(now)
    name = caller_name(account.email, grant.id)
    exc: AvowalError | None = None
    current = state(grant, now)
    if grant.account_id != account.id:
        exc = BreakGlassExpired(
            f"break-glass grant {grant.id} belongs to another account", grant_id=grant.id
        )
    elif current == "pending":
        exc = BreakGlassExpired(
            f"break-glass grant {grant.id} awaits approval (staff.break_glass.approval_required)",
            grant_id=grant.id,
        )
    elif current != "active":
        over = grant.ended_at if grant.ended_at is not None else grant.expires_at
        exc = BreakGlassExpired(
            f"break-glass grant {grant.id} is over since {clock.aware(over).isoformat()}",
            grant_id=grant.id,
        )
    else:
        exc = _not_allowed(loaded, account)
        try:
            staff.require_active(account, now)
        except AccountInactive as inactive:
            exc = inactive
    if exc is not None:
        raise audit.refuse(session, exc, actor=name, role=account.role, action="break_glass_use")
    purposes = tuple(sorted(k for k in loaded.taxonomy.data_uses if "." not in k))
    return dataclasses.replace(staff.caller(loaded, account), name=name, purposes=purposes)


def may_end(loaded: LoadedPolicy, account: StaffAccount, grant: BreakGlass) -> bool:
    """Tell whether an account may end a grant: its holder, a privacy officer or an approver."""
    return (
        grant.account_id == account.id
        or staff.caller(loaded, account).grants(LEGAL_OBLIGATION)
        or account.role in rule(loaded).approvers
    )


def end(
    session: Session,
    loaded: LoadedPolicy,
    account: StaffAccount,
    grant_id: str,
    now: dt.datetime | None = None,
) -> BreakGlass:
    """Close a running (or withdraw a pending) grant: its holder, a privacy officer or an
    approver may."""
    now = clock.current(now)
    grant = get_grant(session, grant_id)
    if not may_end(loaded, account, grant):
        raise BreakGlassRefused(
            "only the holder of a grant or a privacy officer may end it", grant_id=grant.id
        )
    if state(grant, now) not in ("active", "pending"):
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


def describe(
    grant: BreakGlass, email: str, approver: str | None = None, now: dt.datetime | None = None
) -> BreakGlassRead:
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
        minutes=grant.minutes,
        needs_approval=grant.needs_approval,
        approved_by=approver,
        approved_at=clock.aware(grant.approved_at) if grant.approved_at else None,
        notified=list(grant.notified or []),
    )


def list_grants(
    session: Session, now: dt.datetime | None = None, since: dt.datetime | None = None
) -> list[BreakGlassRead]:
    """Return grants still running at or started after ``since`` (all without), newest first."""
    now = clock.current(now)
    holder = aliased(StaffAccount)
    approver = aliased(StaffAccount)
    stmt = (
        select(BreakGlass, holder.email, approver.email)
        .join(holder, holder.id == BreakGlass.account_id)
        .outerjoin(approver, approver.id == BreakGlass.approved_by)
        .order_by(BreakGlass.started_at.desc(), BreakGlass.id)
    )
    if since is not None:
        stmt = stmt.where(BreakGlass.expires_at >= since)
    return [describe(g, email, by, now) for g, email, by in session.execute(stmt)]


def notices_for(
    session: Session, account: StaffAccount, now: dt.datetime | None = None, days: int = 7
) -> list[BreakGlassRead]:
    """Return the grants the account's role was told of: waiting, running, or of the last days."""
    now = clock.current(now)
    recent = now - dt.timedelta(days=days)
    return [
        g
        for g in list_grants(session, now, recent)
        if account.role in g.notified and g.account != account.email
    ]

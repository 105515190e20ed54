"""Find a person and see what one purpose allows: `/console/people` and `/console/people/{id}`.

Every lookup and every view goes through :mod:`avowal.vault.access` with the staff member's
caller, so the vault checks the purpose and audits the access, allowed or refused. A search
says who each person found is: it reads, under the chosen purpose and audited, the value that
matched and their name (when the purpose allows it); no one else is read. While the
staff member holds a break-glass grant, the caller is the grant's (any purpose, every audit entry
flagged with the grant id) and each page says so.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Path, Query
from fastapi.responses import HTMLResponse, Response
from sqlalchemy.orm import Session

from avowal.callers.service import Caller
from avowal.children import lock as parental
from avowal.console import pages
from avowal.console.deps import StaffAccess, StaffContext
from avowal.crypto.service import Secrets
from avowal.legal import break_glass
from avowal.legal.models import BreakGlass
from avowal.lib import clock
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, settle
from avowal.lib.errors import AvowalError
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import FieldType, Storage
from avowal.vault import access, repository, terms, values
from avowal.vault.schemas import ReadValue

router = APIRouter(prefix="/console", tags=["console"], include_in_schema=False)

SUBJECT_ID = r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
PurposeQuery = Annotated[str, Query(max_length=200)]
SubjectIdPath = Annotated[str, Path(pattern=SUBJECT_ID)]
NAME = "name"  # the field a search result shows, when the purpose allows reading it


@dataclass(frozen=True)
class Acting:
    """Who a console page reads as: the role's caller, or a running break-glass grant's."""

    caller: Caller
    purposes: list[str]
    grant: BreakGlass | None


def role_purposes(policy: LoadedPolicy, granted: tuple[str, ...]) -> list[str]:
    """Return the granted purposes and those the policy declares beneath them, granted first."""
    out = list(dict.fromkeys(granted))
    for key in sorted(policy.policy.purposes):
        if key not in out and any(policy.taxonomy.is_within(key, g) for g in granted):
            out.append(key)
    return out


def acting(session: Session, policy: LoadedPolicy, ctx: StaffContext) -> Acting:
    """Return the caller a page reads as, and the purposes it may choose from."""
    assert ctx.caller is not None  # StaffAccess sets it
    grant = break_glass.active_grant(session, ctx.account)
    if grant is None:
        return Acting(ctx.caller, role_purposes(policy, ctx.caller.purposes), None)
    caller = break_glass.caller_for_break_glass(session, policy, ctx.account, grant)
    # Any purpose: the role's first (its usual work), then every purpose the policy declares.
    every = list(dict.fromkeys([*ctx.caller.purposes, *policy.policy.purposes]))
    return Acting(caller, every, grant)


def _lookup_fields(policy: LoadedPolicy, by_email: bool) -> list[str]:
    """Return the lookup fields a typed value may be: e-mail fields for an address, else others."""
    found: list[str] = []
    for cp in policy.policy.collection_points.values():
        for name, spec in cp.fields.items():
            usable = spec.lookup and spec.storage is not Storage.none
            if usable and (spec.type is FieldType.email) == by_email and name not in found:
                found.append(name)
    return found


def _refusal(session: Session, exc: AvowalError) -> tuple[str, int]:
    settle(session, exc)
    return exc.message, exc.status_code


def _page(
    template: str,
    *,
    title: str,
    ctx: StaffContext,
    who: Acting,
    purpose: str,
    status_code: int = 200,
    **context: Any,
) -> HTMLResponse:
    return pages.render(
        template,
        title=title,
        staff=ctx,
        active="people",
        status_code=status_code,
        purposes=who.purposes,
        purpose=purpose,
        grant=who.grant,
        minutes_left=break_glass.minutes_left(who.grant),
        **context,
    )


@router.get("/people", response_class=HTMLResponse)
def people(
    ctx: StaffAccess,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    q: Annotated[str, Query(max_length=320)] = "",
    purpose: PurposeQuery = "",
) -> Response:
    """Find people by e-mail address (blind index) or subject id, for a purpose the role grants;
    say of each which field matched, where it was given, and their name if the purpose allows."""
    who = acting(session, policy, ctx)
    purpose = purpose or (who.purposes[0] if who.purposes else "")
    q = q.strip()
    common: dict[str, Any] = {"ctx": ctx, "who": who, "purpose": purpose, "q": q}
    if not q:
        return _page("people.html", title="People", results=None, error=None, **common)
    if not who.purposes:
        return _page(
            "people.html",
            title="People",
            results=None,
            error=f"the role '{ctx.account.role}' grants no purpose: it may not look anyone up",
            status_code=403,
            **common,
        )
    if re.match(SUBJECT_ID, q.lower()):
        # The person page reads (and audits) under the chosen purpose; nothing is revealed here.
        return pages.redirect(f"/console/people/{q.lower()}?{urlencode({'purpose': purpose})}")
    fields = _lookup_fields(policy, by_email="@" in q)
    if not fields:
        return _page(
            "people.html",
            title="People",
            results=None,
            error="no lookup field of the policy takes a value like this; give an e-mail address "
            "or a subject id",
            status_code=422,
            **common,
        )
    try:
        found = _find(session, policy, secrets, who.caller, fields, q, purpose)
    except AvowalError as exc:
        error, status = _refusal(session, exc)
        return _page(
            "people.html",
            title="People",
            results=None,
            error=error,
            status_code=status,
            **common,
        )
    return _page("people.html", title="People", results=found, error=None, fields=fields, **common)


@dataclass(frozen=True)
class Match:
    """A person a lookup found: by which field, given at which points, and their name.

    ``points`` is the point whose value matched, or (when the value read for the purpose is
    another one of theirs) every point that collects the field for the purpose. ``name`` is
    None when the purpose does not allow reading one.
    """

    subject_id: str
    field: str
    points: list[str]
    name: str | None


def _matched_points(
    policy: LoadedPolicy, field: str, typed: str, read: ReadValue | None, purpose: str
) -> list[str]:
    if read is not None and read.value is not None:
        spec = policy.policy.collection_points[read.point].fields.get(field)
        if spec is not None:
            given = values.lookup_form(spec, values.normalise(field, spec, typed))
            if values.lookup_form(spec, read.value) == given:
                return [read.point]
    return [
        key
        for key, cp in policy.policy.collection_points.items()
        if field in cp.fields
        and cp.fields[field].lookup
        and terms.covers([*cp.purposes, *cp.field_purposes.get(field, [])], purpose)
    ]


def _find(
    session: Session,
    policy: LoadedPolicy,
    secrets: Secrets,
    caller: Caller,
    fields: list[str],
    typed: str,
    purpose: str,
) -> list[Match]:
    """Find people by each lookup field, then read (audited) their matched value and name.

    Only the people the lookup found for the purpose are read, under that purpose: everyone
    else stays unknown, found or not, as the lookup answers them.
    """
    found: dict[str, str] = {}
    for field in fields:
        answer = access.lookup(session, policy, secrets, caller, field, typed, purpose)
        for sid in answer.subject_ids:
            found.setdefault(sid, field)
    has_name = any(NAME in cp.fields for cp in policy.policy.collection_points.values())
    matches: list[Match] = []
    for sid, field in found.items():
        wanted = [field, NAME] if has_name and field != NAME else [field]
        read = access.read(session, policy, secrets, caller, sid, purpose, fields=wanted)
        held = read.values
        name = held[NAME].value if NAME in held else None
        points = _matched_points(policy, field, typed, held.get(field), purpose)
        matches.append(Match(sid, field, points, name))
    return matches


def _labels(policy: LoadedPolicy) -> dict[tuple[str, str], tuple[str, str]]:
    """Return (point, field) -> (label, storage) of every declared field."""
    return {
        (point, name): (spec.label or name, spec.storage.value)
        for point, cp in policy.policy.collection_points.items()
        for name, spec in cp.fields.items()
    }


@dataclass(frozen=True)
class Locked:
    """Why a person's values are withheld: a minor whose parent has not consented yet."""

    why: str
    status: str
    expires_at: dt.datetime
    confirm_at: dt.datetime | None


def _locked(session: Session, subject_id: str) -> Locked | None:
    row = parental.lock_of(session, subject_id)
    if row is None:
        return None
    return Locked(
        why=parental.why_locked(row),
        status=row.status,
        expires_at=clock.aware(row.expires_at),
        confirm_at=clock.aware(row.confirm_at) if row.confirm_at is not None else None,
    )


def _listed(value: object) -> list[object]:
    return list(value) if isinstance(value, list) else []


def _receipts(session: Session, subject_id: str) -> list[dict[str, Any]]:
    return [
        {
            "id": r.id,
            "point": r.point,
            "notice_id": r.notice_id,
            "issued_at": str(r.document.get("issued_at", "")),
            "fields": [str(f) for f in _listed(r.document.get("fields"))],
        }
        for r in repository.receipts_of(session, subject_id)
    ]


@router.get("/people/{subject_id}", response_class=HTMLResponse)
def person(
    subject_id: SubjectIdPath,
    ctx: StaffAccess,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    purpose: PurposeQuery = "",
) -> Response:
    """Show the values a purpose allows, the withheld ones and why, receipts and disclosures."""
    who = acting(session, policy, ctx)
    purpose = purpose or (who.purposes[0] if who.purposes else "")
    common: dict[str, Any] = {
        "ctx": ctx,
        "who": who,
        "purpose": purpose,
        "subject_id": subject_id,
        "labels": _labels(policy),
        "categories": {
            (point, name): spec.category
            for point, cp in policy.policy.collection_points.items()
            for name, spec in cp.fields.items()
        },
    }
    if not purpose:
        return _page(
            "person.html",
            title="Person",
            data=None,
            error=f"the role '{ctx.account.role}' grants no purpose: it may see no personal data",
            status_code=403,
            **common,
        )
    try:
        data = access.read(session, policy, secrets, who.caller, subject_id, purpose)
        register = access.disclosures(session, policy, who.caller, subject_id, purpose)
    except AvowalError as exc:
        error, status = _refusal(session, exc)
        return _page(
            "person.html", title="Person", data=None, error=error, status_code=status, **common
        )
    # In the order the policy declares its collection points and fields.
    rank = {key: i for i, key in enumerate(common["labels"])}
    rows = sorted(
        data["values"].items(), key=lambda kv: rank.get((kv[1]["point"], kv[0]), len(rank))
    )
    return _page(
        "person.html",
        title="Person",
        data=data,
        rows=rows,
        error=None,
        receipts=_receipts(session, subject_id),
        disclosures=register,
        # Asked only after an allowed read: a refused caller learns nothing of a minor.
        locked=_locked(session, subject_id),
        **common,
    )

"""The rights API: the site's back end relays a person's request (issue 12, point 2).

The same operations as the privacy center, written once in :mod:`avowal.rights.service`: the
export of everything held, a correction, a withdrawal, an objection, and a link that opens the
privacy center for the site's signed-in user. Only the callers who may erase someone may act
(the back end serving the person, or a role answering for legal obligations); a refusal is
audited. Each request carried out is audited as the caller and recorded as a case closed at once
(source ``api``). Erasure through the API is ``DELETE /v1/subjects/{subject_id}``.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path
from sqlalchemy.orm import Session

from avowal.callers.deps import CallerDep
from avowal.callers.service import Caller
from avowal.lib import problems
from avowal.lib.deps import PolicyDep, SecretsDep, SessionDep, SettingsDep
from avowal.rights import cases, export, service, signin
from avowal.rights.schemas import (
    Corrected,
    CorrectionRequest,
    Export,
    Objected,
    ObjectionRequest,
    SignInLink,
    SignInLinkRequest,
    WithdrawalRequest,
    Withdrawn,
)

router = APIRouter(prefix="/v1", tags=["rights"])

SubjectIdPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
SOURCE = "api"

S403 = (
    "Forbidden: only the site's back end serving the person or a role answering for legal "
    "obligations may act on a person's rights (`rights_not_allowed`). Audited; nothing changes."
)
S404 = "Not found: no such person (`subject_not_found`)."
S410 = "Gone: the person was erased (`subject_erased`)."
S409_LOCKED = (
    "a minor whose parent has not consented yet (`parental_consent_pending`): nothing changes "
    "for them until then"
)


def _done(session: Session, caller: Caller, kind: str, subject_id: str, outcome: str) -> None:
    cases.record_done(
        session,
        kind,
        [subject_id],
        source=SOURCE,
        actor=caller.name,
        role=caller.role,
        outcome=outcome,
    )


@router.get(
    "/subjects/{subject_id}/export",
    response_model=Export,
    responses=problems.responses(401, 403, 404, 410, 422, 503, s403=S403, s404=S404, s410=S410),
)
def export_subject(
    subject_id: SubjectIdPath,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> Export:
    """Return everything held about a person (schema avowal-export/1), for them."""
    service.require_may_act(session, caller, "export", subject_id)
    held = export.build(session, policy, secrets, subject_id, actor=caller.name, role=caller.role)
    _done(session, caller, "access", subject_id, f"export given ({held.schema_})")
    return held


@router.post(
    "/subjects/{subject_id}/corrections",
    response_model=Corrected,
    # 400: a body that is not JSON text (not UTF-8).
    responses=problems.responses(
        400,
        401,
        403,
        404,
        409,
        410,
        413,
        422,
        503,
        s403=S403,
        s404="Not found: no such person (`subject_not_found`) or collection point "
        "(`unknown_collection_point`).",
        s409="Conflict: nothing of the field is held for the person, it keeps nothing, or it is "
        f"the date of birth the age gate reads (`not_correctable`); or {S409_LOCKED}.",
        s410=S410,
        s422="Not valid: the field is not one of the point (`unknown_field`), or the value is "
        "not valid for it (`invalid_value`, naming the `field`). Nothing changes.",
    ),
)
def correct_value(
    subject_id: SubjectIdPath,
    body: CorrectionRequest,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> Corrected:
    """Replace a value the person gave at a point: the old one destroyed, a new signed receipt."""
    service.require_may_act(session, caller, "correct", subject_id)
    corrected = service.correct(
        session,
        policy,
        secrets,
        subject_id,
        body.point,
        body.field,
        body.value,
        actor=caller.name,
        role=caller.role,
    )
    _done(session, caller, "rectification", subject_id, f"{body.field} at {body.point} corrected")
    return corrected


@router.post(
    "/subjects/{subject_id}/withdrawals",
    response_model=Withdrawn,
    responses=problems.responses(
        400,
        401,
        403,
        404,
        409,
        410,
        413,
        422,
        503,
        s400="Refused: the purpose is not a data use of the taxonomy (`unknown_purpose`), or the "
        "body is not JSON text.",
        s403=S403,
        s404=S404,
        s409="Conflict: the purpose is the service the person uses, which only erasing the "
        "account stops, or nothing of theirs is held for it (`not_withdrawable`); or "
        f"{S409_LOCKED}.",
        s410=S410,
    ),
)
def withdraw_purpose(
    subject_id: SubjectIdPath,
    body: WithdrawalRequest,
    session: SessionDep,
    policy: PolicyDep,
    secrets: SecretsDep,
    caller: CallerDep,
) -> Withdrawn:
    """Take a purpose away from every value held for it; the next read withholds them."""
    service.require_may_act(session, caller, "withdraw", subject_id)
    withdrawn = service.withdraw(
        session, policy, secrets, subject_id, body.purpose, actor=caller.name, role=caller.role
    )
    _done(
        session,
        caller,
        "withdrawal",
        subject_id,
        f"{withdrawn.purpose} withdrawn: {withdrawn.values_changed} value(s) changed, "
        f"{withdrawn.values_destroyed} destroyed",
    )
    return withdrawn


@router.post(
    "/subjects/{subject_id}/objections",
    response_model=Objected,
    responses=problems.responses(
        400,
        401,
        403,
        404,
        409,
        410,
        413,
        422,
        503,
        s400="Refused: the purpose is not a data use of the taxonomy (`unknown_purpose`), or the "
        "body is not JSON text.",
        s403=S403,
        s404=S404,
        s409="Conflict: an objection is to communications, and the purpose is not one "
        "(`not_objectable`).",
        s410=S410,
    ),
)
def object_to_communications(
    subject_id: SubjectIdPath,
    body: ObjectionRequest,
    session: SessionDep,
    policy: PolicyDep,
    caller: CallerDep,
) -> Objected:
    """Record the person's objection to communications for a purpose (a repeat changes nothing).

    Reads, lookups and news for the purpose skip them from then on.
    """
    service.require_may_act(session, caller, "objection", subject_id)
    objected = service.object_to(
        session, policy, subject_id, body.purpose, SOURCE, actor=caller.name, role=caller.role
    )
    said = "recorded" if objected.new else "already recorded; nothing changed"
    _done(session, caller, "objection", subject_id, f"objection to {objected.purpose} {said}")
    return objected


@router.post(
    "/privacy/links",
    status_code=201,
    response_model=SignInLink,
    responses=problems.responses(
        400,
        401,
        403,
        404,
        409,
        410,
        413,
        422,
        503,
        s403=S403,
        s404="Not found: no person with this `subject_id` or `ref` (`subject_not_found`).",
        s409=f"Conflict: {S409_LOCKED}; a minor has no privacy center before then.",
        s410=S410,
    ),
)
def issue_privacy_link(
    body: SignInLinkRequest,
    session: SessionDep,
    policy: PolicyDep,
    settings: SettingsDep,
    caller: CallerDep,
) -> SignInLink:
    """Open the privacy center for the site's signed-in user: send their browser to the link.

    The link is used once and expires in five minutes; no e-mail is sent.
    """
    return signin.site_link(session, policy, caller, settings, body.subject)

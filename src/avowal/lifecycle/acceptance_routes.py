"""The change-notice and acceptance API: announced changes, and acceptances per person."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query

from avowal.callers.deps import CallerDep
from avowal.lib import clock, problems
from avowal.lib.deps import PolicyDep, ReadSessionDep, SessionDep, SettingsDep
from avowal.lifecycle import acceptance, notices
from avowal.lifecycle.acceptance_schemas import (
    AcceptanceList,
    AcceptanceRead,
    AcceptRequest,
    PolicyChanges,
)

router = APIRouter(prefix="/v1", tags=["lifecycle"])

SubjectIdPath = Annotated[str, Path(pattern=r"^[0-9a-f-]{36}$")]
Purpose = Annotated[str, Query(min_length=1, max_length=200, description="A fideslang data use.")]


@router.get("/policy/changes", response_model=PolicyChanges, responses=problems.responses(503))
def policy_changes(session: ReadSessionDep, settings: SettingsDep) -> PolicyChanges:
    """Show the changes announced to take effect later, with links to what changed."""
    return notices.upcoming_changes(session, settings, clock.now())


@router.get(
    "/subjects/{subject_id}/acceptances",
    response_model=AcceptanceList,
    responses=problems.responses(400, 401, 403, 404, 410, 422, 503),
)
def list_acceptances(
    subject_id: SubjectIdPath,
    purpose: Purpose,
    session: SessionDep,
    policy: PolicyDep,
    caller: CallerDep,
) -> AcceptanceList:
    """List a person's acceptances of policy versions: when, how, and what they were shown."""
    return acceptance.acceptances(session, policy, caller, subject_id, purpose)


@router.post(
    "/subjects/{subject_id}/acceptances",
    status_code=201,
    response_model=AcceptanceRead,
    # 400: a body that is not JSON text (not UTF-8).
    responses=problems.responses(400, 401, 403, 404, 409, 410, 413, 422, 503),
)
def accept_version(
    subject_id: SubjectIdPath, body: AcceptRequest, session: SessionDep, caller: CallerDep
) -> AcceptanceRead:
    """Record a person's explicit acceptance of the version in effect or an announced one."""
    return acceptance.accept_explicitly(session, caller, subject_id, body.version_id, body.shown)

"""Service health."""

from __future__ import annotations

from fastapi import APIRouter
from pydantic import BaseModel, Field
from sqlalchemy import text

from avowal import __version__
from avowal.lib import problems
from avowal.lib.deps import PolicyDep, SessionDep

router = APIRouter(tags=["service"])


class Health(BaseModel):
    """The server answers, and which software and policy it runs."""

    status: str = Field(description="`ok`.", examples=["ok"])
    version: str = Field(description="avowal's version.")
    policy_version: str = Field(description="The enforced policy's `version_id`.")


@router.get("/healthz", response_model=Health, responses=problems.responses(503))
def healthz(session: SessionDep, policy: PolicyDep) -> Health:
    """Report that the server and its database answer."""
    session.execute(text("SELECT 1"))
    return Health(status="ok", version=__version__, policy_version=policy.version_id)

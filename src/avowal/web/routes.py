"""Service health."""

from __future__ import annotations

from fastapi import APIRouter, Request
from pydantic import BaseModel, Field

from avowal import __version__
from avowal.db import ready
from avowal.lib import problems
from avowal.lib.deps import PolicyDep

router = APIRouter(tags=["service"])


class Health(BaseModel):
    """The server answers, and which software and policy it runs."""

    status: str = Field(description="`ok`.", examples=["ok"])
    version: str = Field(description="avowal's version.")
    policy_version: str = Field(description="The enforced policy's `version_id`.")


@router.get("/healthz", response_model=Health)
def healthz(policy: PolicyDep) -> Health:
    """Report that the server process answers (liveness; `/readyz` checks the database)."""
    return Health(status="ok", version=__version__, policy_version=policy.version_id)


class Ready(BaseModel):
    """The server can take requests: its database accepts writes."""

    status: str = Field(description="`ready`.", examples=["ready"])


@router.get("/readyz", response_model=Ready, responses=problems.responses(503))
def readyz(request: Request) -> Ready:
    """Report whether this server can take requests: its database accepts a write right now.

    503 `storage_unavailable` when it does not (down, locked, read-only, full); `/healthz` only
    says that the process answers.
    """
    ready.check_writable(request.app.state.engine)
    return Ready(status="ready")

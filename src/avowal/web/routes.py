"""Service health, and the site's icon."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from avowal import __version__
from avowal.db import ready
from avowal.lib import problems
from avowal.lib.deps import PolicyDep
from avowal.web import favicon

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


@router.get("/favicon.svg", include_in_schema=False)
def favicon_svg() -> Response:
    """Serve the site's icon as SVG, the form pages link."""
    return favicon.svg_icon().response()


@router.get("/favicon.ico", include_in_schema=False)
def favicon_ico() -> Response:
    """Serve the site's icon as ICO, for browsers and tools that ask for it by this name."""
    return favicon.ico_icon().response()

"""Service health, and the site's icon."""

from __future__ import annotations

from fastapi import APIRouter, Request, Response
from pydantic import BaseModel, Field

from avowal import __version__
from avowal.lib import problems
from avowal.lib.deps import PolicyDep, SettingsDep
from avowal.web import favicon, ready

router = APIRouter(tags=["service"])


class Health(BaseModel):
    """The server answers, and which software and policy it runs."""

    status: str = Field(description="`ok`.", examples=["ok"])
    version: str = Field(description="avowal's version.")
    policy_version: str = Field(description="The enforced policy's `version_id`.")


@router.get("/healthz", response_model=Health)
def healthz(policy: PolicyDep) -> Health:
    """Report that the server process answers (liveness; `/readyz` says whether it is ready)."""
    return Health(status="ok", version=__version__, policy_version=policy.version_id)


class Ready(BaseModel):
    """The server can take requests: its database takes writes, its keys work, the worker beats."""

    status: str = Field(description="`ready`.", examples=["ready"])


@router.get(
    "/readyz",
    response_model=Ready,
    responses=problems.responses(
        503,
        s503="Not ready; `error` names what: `storage_unavailable` (the database takes no "
        "write), `keys_unavailable` (`key` names it), `worker_not_ready` (`jobs` lists each job "
        "of `avowal worker` whose heartbeat is too old, where the worker runs apart).",
    ),
)
def readyz(request: Request, settings: SettingsDep) -> Ready:
    """Report whether this server can take requests: its database accepts a write right now,
    its keys work, and (where `avowal worker` runs apart) each of the worker's jobs beat recently.

    503 names what is not ready; `/healthz` only says that the process answers.
    """
    state = request.app.state
    ready.check(state.engine, state.secrets, state.read_sessionmaker, settings)
    return Ready(status="ready")


@router.get("/favicon.svg", include_in_schema=False)
def favicon_svg() -> Response:
    """Serve the site's icon as SVG, the form pages link."""
    return favicon.svg_icon().response()


@router.get("/favicon.ico", include_in_schema=False)
def favicon_ico() -> Response:
    """Serve the site's icon as ICO, for browsers and tools that ask for it by this name."""
    return favicon.ico_icon().response()

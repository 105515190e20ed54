"""Service health."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from sqlalchemy import text

from avowal import __version__
from avowal.lib.deps import PolicyDep, SessionDep

router = APIRouter(tags=["service"])


@router.get("/healthz")
def healthz(session: SessionDep, policy: PolicyDep) -> dict[str, Any]:
    """Report that the server and its database answer."""
    session.execute(text("SELECT 1"))
    return {"status": "ok", "version": __version__, "policy_version": policy.version_id}

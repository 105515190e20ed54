"""The published policy: the human-readable page and the machine-readable document."""

from __future__ import annotations

import hashlib

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse
from pydantic import BaseModel, Field

from avowal.lib import clock
from avowal.lib.deps import PolicyDep, ReadSessionDep, SettingsDep
from avowal.lifecycle import versions
from avowal.policy import render
from avowal.policy.schemas import Policy
from avowal.promises import service as promises

router = APIRouter(tags=["policy"])


class PolicyDocument(BaseModel):
    """The enforced policy and its version."""

    version_id: str = Field(description="The SHA-256 of the policy's canonical JSON.")
    policy: Policy


@router.get("/v1/policy", response_model=PolicyDocument)
def get_policy(policy: PolicyDep, response: Response) -> PolicyDocument:
    """Return the enforced policy as JSON, with its content hash as the version id."""
    response.headers["ETag"] = f'"{policy.version_id}"'
    return PolicyDocument(version_id=policy.version_id, policy=policy.policy)


@router.get("/privacy", response_class=HTMLResponse)
def get_privacy_page(
    request: Request, policy: PolicyDep, settings: SettingsDep, session: ReadSessionDep
) -> HTMLResponse:
    """Show the privacy policy, with evidence from our own records under each promise."""
    cache: promises.EvidenceCache = request.app.state.evidence_cache
    evidence = cache.get(
        policy.version_id, lambda: promises.evidence_lines(session, settings, policy)
    )
    page = render.render_html(
        policy, evidence=evidence, history=versions.history(session, clock.now())
    )
    # The evidence changes while the version does not: the tag names both.
    digest = hashlib.sha256(page.encode()).hexdigest()[:16]
    return HTMLResponse(page, headers={"ETag": f'"{policy.version_id}.{digest}"'})


@router.get(
    "/privacy.md",
    response_class=PlainTextResponse,
    responses={200: {"content": {"text/markdown": {"schema": {"type": "string"}}}}},
)
def get_privacy_markdown(policy: PolicyDep) -> PlainTextResponse:
    """Return the human-readable privacy policy as Markdown."""
    return PlainTextResponse(render.render_markdown(policy), media_type="text/markdown")


@router.get(render.STYLESHEET.path, include_in_schema=False)
def privacy_stylesheet() -> Response:
    """Serve the policy page's stylesheet; its URL changes with its content, so cache it long."""
    return render.STYLESHEET.response()

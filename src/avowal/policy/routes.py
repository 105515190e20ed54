"""The published policy: the human-readable page and the machine-readable document."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, PlainTextResponse

from avowal.lib.deps import PolicyDep
from avowal.policy import render

router = APIRouter(tags=["policy"])


@router.get("/v1/policy")
def policy_document(policy: PolicyDep, request: Request, response: Response) -> dict[str, Any]:
    """Return the enforced policy as JSON, with its content hash as the version id."""
    etag = f'"{policy.version_id}"'
    response.headers["ETag"] = etag
    return {"version_id": policy.version_id, "policy": policy.as_json()}


@router.get("/privacy", response_class=HTMLResponse)
def privacy_page(policy: PolicyDep) -> HTMLResponse:
    """Show the human-readable privacy policy generated from the policy file."""
    return HTMLResponse(render.render_html(policy), headers={"ETag": f'"{policy.version_id}"'})


@router.get("/privacy.md", response_class=PlainTextResponse)
def privacy_markdown(policy: PolicyDep) -> PlainTextResponse:
    """Return the human-readable privacy policy as Markdown."""
    return PlainTextResponse(render.render_markdown(policy), media_type="text/markdown")


@router.get(render.STYLESHEET.path, include_in_schema=False)
def privacy_stylesheet() -> Response:
    """Serve the policy page's stylesheet; its URL changes with its content, so cache it long."""
    return render.STYLESHEET.response()

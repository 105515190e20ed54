"""Public version pages: every published version, each one's page, and the changes between two."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Response
from fastapi.responses import HTMLResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from avowal.lib import clock, problems
from avowal.lib.assets import Stylesheet
from avowal.lib.deps import PolicyDep, ReadSessionDep
from avowal.lib.errors import AvowalError
from avowal.lifecycle import service, versions
from avowal.lifecycle.exceptions import MissingVersion
from avowal.lifecycle.models import PolicyVersion
from avowal.lifecycle.version_schemas import VersionDiff, VersionList, VersionRead, VersionRef
from avowal.policy import render, wording
from avowal.policy.document import short_version
from avowal.policy.loader import LoadedPolicy
from avowal.policy.render import PAGE_LANGUAGE

router = APIRouter(tags=["policy"])

STYLESHEET = Stylesheet("avowal.lifecycle", "static/versions.css", "/assets/versions.css")
FROM = Query(alias="from", description="The version before: its id or 8+ hex digits of it.")
TO = Query(description="The version after: its id or 8+ hex digits of it.")


@cache
def _environment() -> Environment:
    # Autoescape everywhere: summaries, policy text and ids from the URL are all data.
    env = Environment(
        loader=PackageLoader("avowal.lifecycle", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
    )
    env.filters["day"] = wording.date
    env.filters["moment"] = lambda at: f"{wording.date(at.date())}, {at:%H:%M} UTC"
    return env


def _page(
    policy: LoadedPolicy, template: str, title: str, status: int = 200, **values: Any
) -> HTMLResponse:
    html = (
        _environment()
        .get_template(template)
        .render(
            title=title,
            organisation=policy.policy.organisation.name,
            # The pages are written in English (a policy in French still has English pages).
            lang=PAGE_LANGUAGE,
            stylesheets={"privacy": render.STYLESHEET.href, "versions": STYLESHEET.href},
            **values,
        )
    )
    return HTMLResponse(html, status_code=status)


def _problem(policy: LoadedPolicy, exc: AvowalError) -> HTMLResponse:
    return _page(
        policy, "problem.html", "This version cannot be shown", exc.status_code, message=exc.message
    )


def diff_link(old: str, new: str) -> str:
    """Return the URL of the page showing the changes from ``old`` to ``new``."""
    return "/privacy/diff?" + urlencode({"from": old, "to": new})


def _ref(row: PolicyVersion) -> VersionRef:
    return VersionRef(
        version_id=row.version_id,
        short_id=short_version(row.version_id),
        effective=row.effective,
        effective_at=clock.aware(row.effective_at),
        published_at=clock.aware(row.published_at),
        summary=row.summary,
        material=row.material,
    )


def _listing(session: ReadSessionDep) -> VersionList:
    items = versions.listing(session, clock.now())
    read = [
        VersionRead(
            **_ref(item.row).model_dump(),
            state=item.state,
            predecessor=item.predecessor,
            page=f"/privacy/versions/{item.row.version_id}",
            changes=diff_link(item.predecessor, item.row.version_id) if item.predecessor else None,
        )
        for item in items
    ]
    current = next((v.version_id for v in read if v.state is versions.State.in_effect), None)
    return VersionList(in_effect=current, versions=read)


def _diff(session: ReadSessionDep, ref_from: str, ref_to: str) -> VersionDiff:
    old, new, result = versions.compare(session, ref_from, ref_to)
    return VersionDiff(
        from_version=_ref(old),
        to_version=_ref(new),
        material=result.material,
        changes=result.changes,
        text=result.text,
    )


@router.get("/v1/policy/versions", response_model=VersionList, responses=problems.responses(503))
def list_versions(session: ReadSessionDep) -> VersionList:
    """List every published version of the policy, newest first, and which is in effect."""
    return _listing(session)


@router.get(
    "/v1/policy/diff",
    response_model=VersionDiff,
    responses=problems.responses(
        400,
        404,
        422,
        503,
        s400="`same_version` (from and to are one version) or `ambiguous_version` (give more "
        "digits).",
        s404="`unknown_version`: no published version has that id.",
        s422="`malformed_version_id`, or a missing `from` or `to`.",
    ),
)
def get_diff(
    session: ReadSessionDep,
    ref_from: Annotated[str, FROM],
    to: Annotated[str, TO],
) -> VersionDiff:
    """Return the changes between two published versions, each classified material or not."""
    return _diff(session, ref_from, to)


# The pages answer errors as pages; their JSON twins under /v1/policy are the documented API.
@router.get("/privacy/versions", response_class=HTMLResponse, include_in_schema=False)
def versions_page(session: ReadSessionDep, policy: PolicyDep) -> HTMLResponse:
    """Show every published version, which is in effect, and links to each one's changes."""
    listing = _listing(session)
    return _page(
        policy, "versions.html", "Versions of this privacy policy", versions=listing.versions
    )


@router.get(
    "/privacy/versions/{version_id}",
    response_class=HTMLResponse,
    include_in_schema=False,
)
def version_page(version_id: str, session: ReadSessionDep, policy: PolicyDep) -> HTMLResponse:
    """Show the human-readable page of one published version."""
    try:
        row = versions.find(session, version_id)
    except AvowalError as exc:
        return _problem(policy, exc)
    return HTMLResponse(
        render.render_html(service.loaded_version(row)), headers={"ETag": f'"{row.version_id}"'}
    )


@router.get("/privacy/diff", response_class=HTMLResponse, include_in_schema=False)
def diff_page(
    session: ReadSessionDep,
    policy: PolicyDep,
    ref_from: Annotated[str | None, FROM] = None,
    to: Annotated[str | None, TO] = None,
) -> HTMLResponse:
    """Show what changes between two published versions, material changes flagged."""
    try:
        if not ref_from or not to:
            missing = [name for name, value in (("from", ref_from), ("to", to)) if not value]
            raise MissingVersion(
                f"say which versions to compare: {' and '.join(missing)} missing, e.g. "
                "/privacy/diff?from=<version id>&to=<version id>",
                missing=missing,
            )
        old, new, result = versions.compare(session, ref_from, to)
    except AvowalError as exc:
        return _problem(policy, exc)
    title = f"Changes from version {short_version(old.version_id)}"
    return _page(policy, "diff.html", title, old=_ref(old), new=_ref(new), result=result)


@router.get(STYLESHEET.path, include_in_schema=False)
def versions_stylesheet() -> Response:
    """Serve the version pages' stylesheet; its URL changes with its content, so cache it long."""
    return STYLESHEET.response()

"""The pages a person opens from a link avowal mailed them (a parent's answer, unsubscribing):
one frame, the privacy page's stylesheet, never cached (the link is a secret of its person).

Each package keeps its own page templates; they extend ``person_layout.html`` here, and
``person_done.html`` says how an action went or why a link cannot be used.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from fastapi.responses import HTMLResponse
from jinja2 import ChoiceLoader, Environment, PackageLoader, StrictUndefined

from avowal.policy import render
from avowal.policy.loader import LoadedPolicy
from avowal.policy.render import PAGE_LANGUAGE

DONE = "person_done.html"


@cache
def _environment(package: str, folder: str) -> Environment:
    loader = ChoiceLoader(
        [PackageLoader(package, folder), PackageLoader("avowal.lib", "templates")]
    )
    return Environment(loader=loader, autoescape=True, undefined=StrictUndefined)


def page(
    package: str,
    folder: str,
    policy: LoadedPolicy,
    template: str,
    title: str,
    status: int = 200,
    **values: Any,
) -> HTMLResponse:
    """Render one of ``package``'s templates (in ``folder``) in the shared frame."""
    html = (
        _environment(package, folder)
        .get_template(template)
        .render(
            title=title,
            organisation=policy.policy.organisation.name,
            lang=PAGE_LANGUAGE,
            stylesheet=render.STYLESHEET.href,
            **values,
        )
    )
    # The page's meta tag keeps the link out of referrers; the header keeps it out of caches.
    return HTMLResponse(html, status_code=status, headers={"Cache-Control": "no-store"})


def purpose_label(policy: LoadedPolicy, purpose: str) -> str:
    """Name a purpose as the policy describes it to people (else the taxonomy's name for it)."""
    declared = policy.policy.purposes.get(purpose)
    if declared is not None:
        return declared.description
    return policy.taxonomy.label("data_uses", purpose)

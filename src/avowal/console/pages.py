"""Render console pages: Jinja2 templates with autoescape, never cached by the browser."""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

from fastapi.responses import HTMLResponse, RedirectResponse
from jinja2 import Environment, PackageLoader, StrictUndefined

from avowal.console import names, nav

if TYPE_CHECKING:
    from avowal.console.deps import StaffContext

STYLESHEET = "/console/static/console.css"
NO_STORE = {"Cache-Control": "no-store", "Pragma": "no-cache"}


@cache
def environment() -> Environment:
    """Return the console's template environment (templates in ``avowal/console/templates``).

    Templates name keys with the filters of :mod:`avowal.console.names` (``purpose_name``,
    ``category_name``, ``role_title``, ``point_title``, ``field_label``), and ``base.html``
    lists the pages of :func:`avowal.console.nav.items_for` the signed-in member may use.
    """
    env = Environment(
        loader=PackageLoader("avowal.console", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    names.register(env)
    env.globals["nav_items"] = nav.items_for
    return env


def render(
    template: str,
    *,
    title: str,
    staff: StaffContext | None = None,
    active: str = "",
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> HTMLResponse:
    """Render a console page extending ``base.html``.

    ``staff`` shows the navigation (the pages the member may use, :mod:`avowal.console.nav`)
    and the sign-out form; ``active`` names the current nav item (a key of ``nav.ITEMS``).
    """
    html = (
        environment()
        .get_template(template)
        .render(title=title, staff=staff, active=active, stylesheet=STYLESHEET, **context)
    )
    return HTMLResponse(html, status_code=status_code, headers={**NO_STORE, **(headers or {})})


def message(
    title: str,
    text: str,
    *,
    status_code: int = 200,
    staff: StaffContext | None = None,
    link: tuple[str, str] | None = None,
    headers: dict[str, str] | None = None,
) -> HTMLResponse:
    """Render a page with one message and an optional (href, label) link to go on."""
    return render(
        "message.html",
        title=title,
        staff=staff,
        status_code=status_code,
        headers=headers,
        text=text,
        link=link,
    )


def redirect(location: str) -> RedirectResponse:
    """Answer a form or a refused page with a 303 to ``location``."""
    return RedirectResponse(location, status_code=303, headers=NO_STORE)

"""The staff console: server-rendered pages behind sign-in, TOTP and the confidentiality agreement.

:func:`install` adds the sign-in pages, the people, legal, break-glass, review and analytics
pages (and the analytics share pages), the stylesheets and the HTML answer to console refusals;
pages that show personal data depend on :data:`avowal.console.deps.StaffAccess`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from avowal.console import (
    analytics_routes,
    auth_routes,
    break_glass_routes,
    legal_routes,
    pages,
    people_routes,
    review_routes,
)
from avowal.console.deps import ConsoleRefusal, guard
from avowal.staff import sessions

STATIC = Path(__file__).resolve().parent / "static"


async def _refused(_: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRefusal)
    if exc.location is not None:
        response: Response = pages.redirect(exc.location)
        if exc.location == "/console/login":
            response.delete_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH)
        return response
    return pages.message(
        exc.title, exc.message, status_code=exc.status_code, link=("/console", "Console home")
    )


ROUTERS: tuple[APIRouter, ...] = (
    auth_routes.router,
    people_routes.router,
    legal_routes.router,
    break_glass_routes.router,
    review_routes.router,
    analytics_routes.router,
    analytics_routes.share_router,
)


def install(app: FastAPI) -> None:
    """Add the console's pages, its stylesheets and its refusal pages to ``app``.

    Every router of :data:`ROUTERS` gets :func:`avowal.console.deps.guard`: each POST is checked
    for its origin and every form field and query parameter for storable text, before anything
    else runs.
    """
    for router in ROUTERS:
        app.include_router(router, dependencies=[Depends(guard)])
    app.include_router(review_routes.assets)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(ConsoleRefusal, _refused)

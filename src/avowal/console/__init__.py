"""The staff console: server-rendered pages behind sign-in, TOTP and the confidentiality agreement.

:func:`install` adds the sign-in pages, the people, legal, break-glass, review and analytics
pages (and the analytics share pages), the stylesheets and the HTML answer to console refusals;
pages that show personal data depend on :data:`avowal.console.deps.StaffAccess`. A refused page
and an unknown console address (404) are answered inside the console's layout, with the
navigation of whoever is signed in; other 404s keep the application's JSON answer.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import cast

from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import Response

from avowal.console import (
    analytics_routes,
    auth_routes,
    break_glass_routes,
    cases_routes,
    legal_routes,
    news_routes,
    pages,
    people_routes,
    review_routes,
)
from avowal.console.deps import ConsoleRefusal, StaffContext, guard, signed_in
from avowal.lib import errors
from avowal.staff import sessions

STATIC = Path(__file__).resolve().parent / "static"


PREFIX = "/console"


def _who(request: Request) -> StaffContext | None:
    """Return who is signed in for an error page; None when the database cannot say."""
    try:
        return signed_in(request)
    except errors.STORAGE_ERRORS:
        return None  # the page is shown all the same, without the navigation


async def _refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, ConsoleRefusal)
    if exc.location is not None:
        response: Response = pages.redirect(exc.location)
        if exc.location == "/console/login":
            response.delete_cookie(sessions.COOKIE, path=sessions.COOKIE_PATH)
        return response
    # Read only: the refusal itself was settled (and audited) by the request's own session.
    staff = await run_in_threadpool(_who, request)
    return pages.message(
        exc.title,
        exc.message,
        status_code=exc.status_code,
        staff=staff,
        link=("/console", "Console home"),
    )


def _in_console(path: str) -> bool:
    return path == PREFIX or path.startswith(PREFIX + "/")


HttpHandler = Callable[[Request, Exception], Awaitable[Response]]


def _not_found(previous: HttpHandler) -> HttpHandler:
    """Answer a GET of an unknown console address with a page; anything else as before."""

    async def handler(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, StarletteHTTPException)
        page = exc.status_code == 404 and request.method in ("GET", "HEAD")
        if not (page and _in_console(request.url.path)):
            return await previous(request, exc)
        staff = await run_in_threadpool(_who, request)
        return pages.message(
            "Page not found",
            "There is no console page at this address. It may have moved, or the link may be "
            "mistyped.",
            status_code=404,
            staff=staff,
            link=("/console", "Console home"),
        )

    return handler


ROUTERS: tuple[APIRouter, ...] = (
    auth_routes.router,
    people_routes.router,
    legal_routes.router,
    break_glass_routes.router,
    review_routes.router,
    analytics_routes.router,
    analytics_routes.share_router,
    news_routes.router,
    cases_routes.router,
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
    # Wraps the application's own answer (avowal.lib.errors), which every other 404 keeps.
    previous = app.exception_handlers.get(StarletteHTTPException, http_exception_handler)
    app.add_exception_handler(StarletteHTTPException, _not_found(cast(HttpHandler, previous)))

"""The staff console: server-rendered pages behind sign-in, TOTP and the confidentiality agreement.

:func:`install` adds the sign-in pages, the stylesheet and the HTML answer to console refusals;
pages that show personal data depend on :data:`avowal.console.deps.StaffAccess`.
"""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.responses import Response

from avowal.console import auth_routes, pages
from avowal.console.deps import ConsoleRefusal
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


def install(app: FastAPI) -> None:
    """Add the console's sign-in routes, its stylesheet and its refusal pages to ``app``."""
    app.include_router(auth_routes.router)
    app.mount("/console/static", StaticFiles(directory=STATIC), name="console-static")
    app.add_exception_handler(ConsoleRefusal, _refused)

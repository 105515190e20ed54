"""Server logs that hold no personal data: no IPs, no query strings, no paths, no error messages.

`avowal serve` configures uvicorn with :func:`uvicorn_config` and wraps the application in
:class:`AccessLog`. An access line names the route template (``/v1/subjects/{subject_id}/data``),
never the path asked for: paths hold subject ids, enrolment and share tokens. Exceptions are
logged by type, driver code and code location (:func:`avowal.lib.errors.describe`): their
messages may quote a value, a ref or a SQL parameter.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Sequence
from types import TracebackType
from typing import Any

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.lib.errors import describe

access_logger = logging.getLogger("avowal.access")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class SafeFormatter(logging.Formatter):
    """A formatter that prints an exception's types and code locations, never its message."""

    def formatException(self, ei: ExcInfo) -> str:
        """Describe the exception without its message (it may hold personal data)."""
        exc = ei[1]
        if exc is None:
            return ""
        return f"(exception message withheld) {describe(exc)}"


def uvicorn_config(level: str = "INFO") -> dict[str, Any]:
    """Return uvicorn's ``log_config``: everything to stderr through :class:`SafeFormatter`.

    uvicorn's own access log stays off (it prints client addresses and query strings).
    """
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"safe": {"()": SafeFormatter, "fmt": FORMAT}},
        "handlers": {
            "stderr": {
                "class": "logging.StreamHandler",
                "formatter": "safe",
                "stream": "ext://sys.stderr",
            }
        },
        "loggers": {
            "uvicorn": {"handlers": ["stderr"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "CRITICAL", "propagate": False},
            "avowal": {"handlers": ["stderr"], "level": level, "propagate": False},
        },
        "root": {"handlers": ["stderr"], "level": "WARNING"},
    }


def route_template(routes: Sequence[BaseRoute], scope: Scope) -> str:
    """Return the template of the route ``scope`` matches, or ``(no route)``."""
    for route in routes:
        match, _ = route.matches(scope)
        if match is not Match.FULL:
            continue
        path = getattr(route, "path", None)
        if isinstance(path, str):
            return path
        # FastAPI wraps an included router; its routes carry the templates.
        inner = getattr(getattr(route, "original_router", None), "routes", None)
        return route_template(inner, scope) if inner else "(unnamed route)"
    return "(no route)"


class AccessLog:
    """ASGI middleware writing one line per request: method, route template, status, duration.

    No client address, no query string, no path, no header: nothing that identifies a person.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.routes = routes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0

        async def sending(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            access_logger.info(
                "%s %s %s %.1fms",
                scope["method"],
                route_template(self.routes, scope),
                status or "-",
                (time.perf_counter() - started) * 1000,
            )

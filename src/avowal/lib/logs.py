"""Server logs that hold no personal data: no IPs, no query strings, no paths, no error messages.

`avowal serve` configures uvicorn with :func:`uvicorn_config` and wraps the application in
:class:`AccessLog`. An access line names the route template (``/v1/subjects/{subject_id}/data``),
never the path asked for: paths hold subject ids, enrolment and share tokens. Exceptions are
logged by type, driver code and code location (:func:`avowal.lib.errors.describe`): their
messages may quote a value, a ref or a SQL parameter.

Lines are plain text, or one JSON object each (``AVOWAL_LOG_FORMAT=json``, :class:`JsonFormatter`)
with the access line's route, method, status, duration and request id as fields of their own.
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import time
from collections.abc import Sequence
from contextvars import ContextVar
from types import TracebackType
from typing import Any, Literal

from starlette.routing import BaseRoute, Match
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from avowal.lib.errors import describe

access_logger = logging.getLogger("avowal.access")
FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
LogFormat = Literal["text", "json"]

# The request being answered (avowal.web.request_ids), for lines written while answering it.
REQUEST_ID: ContextVar[str | None] = ContextVar("avowal_request_id", default=None)
REQUEST_ID_HEADER = b"x-request-id"
# Where the route template of a request is kept once found, for the next middleware to ask.
ROUTE_KEY = "avowal.route"
# Methods named as sent; any other is "OTHER" (a method is a client's free text).
METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS", "TRACE"})
# The fields of an access line, each a JSON field of its own (and nothing else from `extra`).
ACCESS_FIELDS = ("route", "method", "status", "duration_ms", "request_id")

ExcInfo = tuple[type[BaseException], BaseException, TracebackType | None] | tuple[None, None, None]


class SafeFormatter(logging.Formatter):
    """A formatter that prints an exception's types and code locations, never its message."""

    def formatException(self, ei: ExcInfo) -> str:
        """Describe the exception without its message (it may hold personal data)."""
        exc = ei[1]
        if exc is None:
            return ""
        return f"(exception message withheld) {describe(exc)}"


class JsonFormatter(SafeFormatter):
    """One JSON object a line: time, level, logger, message, an access line's fields, the request
    id of the request being answered, and an exception described without its message."""

    def format(self, record: logging.LogRecord) -> str:
        """Return ``record`` as one line of JSON."""
        at = dt.datetime.fromtimestamp(record.created, dt.UTC)
        entry: dict[str, Any] = {
            "time": at.isoformat(timespec="milliseconds").replace("+00:00", "Z"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ACCESS_FIELDS:
            value = record.__dict__.get(field)
            if value is not None:
                entry[field] = value
        if "request_id" not in entry and (current := REQUEST_ID.get()) is not None:
            entry["request_id"] = current
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            entry["stack"] = self.formatStack(record.stack_info)
        return json.dumps(entry, separators=(",", ":"))


def uvicorn_config(level: str = "INFO", log_format: LogFormat = "text") -> dict[str, Any]:
    """Return uvicorn's ``log_config``: everything to stderr through :class:`SafeFormatter`, or
    :class:`JsonFormatter` for ``log_format="json"``.

    uvicorn's own access log stays off (it prints client addresses and query strings).
    """
    formatter: dict[str, Any] = (
        {"()": JsonFormatter} if log_format == "json" else {"()": SafeFormatter, "fmt": FORMAT}
    )
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"safe": formatter},
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


class RouteTemplates:
    """Find requests' route templates, kept in the scope for the next middleware to ask.

    A path that is its own template (a route without parameters, such as the analytics event
    endpoint) is remembered by method and path: finding it again would walk every route. Only
    those are remembered, so the memory is bounded by the routes, and holds no id or token.
    """

    def __init__(self, routes: Sequence[BaseRoute]) -> None:
        # The application's own list: routes included later are in it too.
        self.routes = routes
        self.static: dict[tuple[str, str, str], str] = {}

    def __call__(self, scope: Scope) -> str:
        """Return the template of the route ``scope`` matches, or ``(no route)``."""
        found = scope.get(ROUTE_KEY)
        if isinstance(found, str):
            return found
        # Any method not standard is one key: no route but a mount answers one.
        key = (method_of(scope), scope.get("root_path", ""), scope["path"])
        found = self.static.get(key)
        if found is None:
            found = route_template(self.routes, scope)
            if found == key[2]:
                self.static[key] = found
        scope[ROUTE_KEY] = found
        return found


def method_of(scope: Scope) -> str:
    """Return the request's method if it is a standard one, else ``OTHER``."""
    method = scope.get("method", "")
    return method if method in METHODS else "OTHER"


def request_id_of(headers: Sequence[tuple[bytes, bytes]]) -> str | None:
    """Return the ``X-Request-ID`` of a response's headers, if it has one."""
    for name, value in headers:
        if name.lower() == REQUEST_ID_HEADER:
            return value.decode("latin-1")
    return None


class AccessLog:
    """ASGI middleware writing one line per request: method, route template, status, duration
    and the request id the response carries (``X-Request-ID``, set by the application).

    No client address, no query string, no path, no other header: nothing that identifies a
    person. A method that is not a standard one is written ``OTHER``.
    """

    def __init__(self, app: ASGIApp, routes: Sequence[BaseRoute]) -> None:
        self.app = app
        self.templates = RouteTemplates(routes)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 0
        request_id: str | None = None

        async def sending(message: Message) -> None:
            nonlocal status, request_id
            if message["type"] == "http.response.start":
                status = message["status"]
                request_id = request_id_of(message.get("headers", ()))
            await send(message)

        try:
            await self.app(scope, receive, sending)
        finally:
            method = method_of(scope)
            route = self.templates(scope)
            duration_ms = round((time.perf_counter() - started) * 1000, 1)
            access_logger.info(
                "%s %s %s %.1fms %s",
                method,
                route,
                status or "-",
                duration_ms,
                request_id or "-",
                extra={
                    "route": route,
                    "method": method,
                    "status": status or None,
                    "duration_ms": duration_ms,
                    "request_id": request_id,
                },
            )

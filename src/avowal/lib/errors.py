"""One place that turns domain exceptions into HTTP answers a caller can act on."""

from __future__ import annotations

import logging
import traceback
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from sqlalchemy import exc as sa_exc
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

logger = logging.getLogger("avowal.errors")

# The database cannot be reached or written just now (down, locked, disk full, read-only, a
# deadlock or a pool timeout): the request may be sent again. Integrity and data errors are
# not here: they are bugs (a 500), not the storage's state.
STORAGE_ERRORS: tuple[type[Exception], ...] = (
    sa_exc.OperationalError,
    sa_exc.InterfaceError,
    sa_exc.InternalError,
    sa_exc.TimeoutError,
)
STORAGE_RETRY_SECONDS = "5"

# Where a request's scope holds the application's refusal counter (avowal.web.metrics puts it
# there): every answer with an error body below is counted by its code, never by its details.
REFUSALS = "avowal.refusals"


def count(scope: Scope, error: str) -> None:
    """Count one answer with the error code ``error``, if the application counts them."""
    counter: Callable[[str], None] | None = scope.get(REFUSALS)
    if counter is not None:
        counter(error)


class AvowalError(Exception):
    """Base of domain refusals: an HTTP status, a stable error code and structured details."""

    status_code = 400
    error = "bad_request"
    headers: dict[str, str] | None = None
    # Refusals of access are audited; the audit entry is committed even though the request fails.
    keep_audit = False

    def __init__(self, message: str, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        self.details = details

    def body(self) -> dict[str, Any]:
        """Return the JSON body of the refusal."""
        return {"error": self.error, "message": self.message, **self.details}


async def send_problem(scope: Scope, receive: Receive, send: Send, exc: AvowalError) -> None:
    """Answer ``exc`` from ASGI middleware, before any route runs, in the one Problem shape."""
    count(scope, exc.error)
    response = JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)
    await response(scope, receive, send)


def install(app: FastAPI) -> None:
    """Register the exception handlers on ``app``.

    :class:`Failures`, installed as a middleware, answers whatever these do not handle.
    """

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        # Reached only by a failure outside Failures (in the outermost middlewares).
        answer = answer_for(exc)
        logger.error("%s during %s: %s", answer.error, route_of(request.scope), describe(exc))
        count(request.scope, answer.error)
        return JSONResponse(answer.body(), status_code=answer.status_code, headers=answer.headers)

    @app.exception_handler(AvowalError)
    async def _domain(request: Request, exc: AvowalError) -> JSONResponse:
        count(request.scope, exc.error)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=exc.headers)

    @app.exception_handler(RequestValidationError)
    async def _validation(request: Request, exc: RequestValidationError) -> JSONResponse:
        count(request.scope, "invalid_request")
        problems = [
            {"location": ".".join(str(p) for p in e["loc"]), "message": e["msg"]}
            for e in exc.errors()
        ]
        return JSONResponse(
            {
                "error": "invalid_request",
                "message": "the request is not valid",
                "problems": problems,
            },
            status_code=422,
        )

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = _HTTP_CODES.get(exc.status_code, "http_error")
        count(request.scope, code)
        message = str(exc.detail)
        if exc.status_code == 400:
            # Starlette's own words name no cause: a body that is not UTF-8 or not parseable.
            message = "the request body could not be read (not UTF-8 or not well-formed)"
        return JSONResponse(
            {"error": code, "message": message},
            status_code=exc.status_code,
            headers=getattr(exc, "headers", None),
        )


_HTTP_CODES = {400: "invalid_body", 404: "not_found", 405: "method_not_allowed"}


class StorageUnavailable(AvowalError):
    """The database could not be read or written; nothing of the request was kept."""

    status_code = 503
    error = "storage_unavailable"
    headers = {"Retry-After": STORAGE_RETRY_SECONDS}  # noqa: RUF012 - one constant for all


class InternalError(AvowalError):
    """An unexpected failure: a bug, answered without any detail."""

    status_code = 500
    error = "internal_error"


def storage_unavailable() -> StorageUnavailable:
    """Return the 503 answered when the database cannot be used."""
    return StorageUnavailable(
        "the database could not be read or written just now, so this request was not carried "
        "out; send it again in a few seconds"
    )


def internal_error() -> InternalError:
    """Return the 500 answered for a failure nobody expected (details go to the log only)."""
    return InternalError(
        "an unexpected error stopped this request; it was logged (without the request's data) "
        "for the operator"
    )


def answer_for(exc: Exception) -> AvowalError:
    """Return the answer to an exception no route handled: its own, a 503 or a 500."""
    if isinstance(exc, AvowalError):
        return exc
    if isinstance(exc, STORAGE_ERRORS):
        return storage_unavailable()
    return internal_error()


def describe(exc: BaseException) -> str:
    """Describe an exception for the log without its message: messages may hold people's data.

    SQLAlchemy's messages carry statements and parameters, a driver's carry the values that broke
    a constraint, anyone's ``ValueError`` may quote its input. What is kept: the exception types
    (with the chain of causes), the driver's error code, and where in the code it happened.
    """
    names: list[str] = []
    seen: BaseException | None = exc
    while seen is not None and len(names) < 5:
        names.append(_type_and_code(seen))
        seen = seen.__cause__ or seen.__context__
    frames = traceback.extract_tb(exc.__traceback__)
    # The innermost frame, then the innermost of ours: where it broke, and what we were doing.
    ours = [f for f in frames[:-1] if "/avowal/" in f.filename][-4:]
    shown = [*frames[-1:], *reversed(ours)]
    where = " < ".join(f"{_short(f.filename)}:{f.lineno} in {f.name}" for f in shown)
    return f"{' caused by '.join(names)} at {where or '(no traceback)'}"


def _type_and_code(exc: BaseException) -> str:
    name = type(exc).__qualname__
    if isinstance(exc, sa_exc.DBAPIError):
        orig = exc.orig
        name += f"[{type(orig).__module__}.{type(orig).__qualname__}"
        # SQLite's and PostgreSQL's error codes say what happened and never quote data.
        code = getattr(orig, "sqlite_errorname", None) or getattr(orig, "sqlstate", None)
        name += f" {code}]" if code else "]"
    return name


def _short(filename: str) -> str:
    for marker in ("/site-packages/", "/src/"):
        if marker in filename:
            return filename.rsplit(marker, 1)[1]
    return filename


def route_of(scope: Scope) -> str:
    """Return the route template a request matched (never its path: paths hold ids and tokens)."""
    route = scope.get("route")
    path = getattr(route, "path", None)
    return f"{scope.get('method', '?')} {path if isinstance(path, str) else '(no route)'}"


class Failures:
    """ASGI middleware turning any exception that escapes a route into a JSON answer.

    Storage failures answer 503 ``storage_unavailable`` (with Retry-After), any other unexpected
    exception 500 ``internal_error`` with no detail; a domain refusal raised by a middleware gets
    its own answer. The log gets :func:`describe`, never the exception's message, and the
    exception is not re-raised: the ASGI server would print it, message and all.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking)
        except Exception as exc:
            answer = answer_for(exc)
            if answer is not exc:
                level = logging.WARNING if answer.status_code == 503 else logging.ERROR
                logger.log(level, "%s during %s: %s", answer.error, route_of(scope), describe(exc))
            if started:
                # Too late for an answer: the server ends the response; the log says why.
                return
            count(scope, answer.error)
            response = JSONResponse(
                answer.body(), status_code=answer.status_code, headers=answer.headers
            )
            await response(scope, receive, send)

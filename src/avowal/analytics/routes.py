"""HTTP of the analytics ingest: the tracker script and the event endpoint."""

from __future__ import annotations

import functools
import weakref
from typing import NamedTuple

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from starlette.requests import ClientDisconnect
from starlette.types import ASGIApp, Receive, Scope, Send

from avowal.analytics import ingest, tracker
from avowal.analytics.exceptions import (
    OriginNotAllowed,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from avowal.analytics.schemas import EventAccepted, EventPayload
from avowal.analytics.service import Analytics
from avowal.lib import errors, problems, text
from avowal.lib.errors import AvowalError

router = APIRouter(tags=["analytics"])

# An event is a few hundred bytes; Plausible's own limits (30 props of 2000 characters) are
# not meant to be used all at once.
MAX_EVENT_BYTES = 8 * 1024
MEDIA_TYPES = ("application/json", "text/plain")
JSON_MEDIA_TYPE = "application/json"
PREFLIGHT_MAX_AGE = "86400"


def _analytics(request: Request) -> Analytics:
    analytics: Analytics = request.app.state.analytics
    return analytics


def _script_response(request: Request, cache: str, script: tracker.Script) -> Response:
    headers = {
        "Cache-Control": cache,
        "ETag": script.etag,
        "Vary": "Accept-Encoding",
        # Any site may load it with <script src>, also under a Cross-Origin-Embedder-Policy.
        "Cross-Origin-Resource-Policy": "cross-origin",
    }
    if script.etag in request.headers.get("if-none-match", ""):
        return Response(status_code=304, headers=headers)
    body = script.body
    if "gzip" in request.headers.get("accept-encoding", ""):
        body = script.gzipped
        headers["Content-Encoding"] = "gzip"
    if request.method == "HEAD":
        headers["Content-Length"] = str(len(body))
        return Response(status_code=200, headers=headers, media_type=tracker.MEDIA_TYPE)
    return Response(body, headers=headers, media_type=tracker.MEDIA_TYPE)


@router.api_route("/a.js", methods=["GET", "HEAD"], include_in_schema=False)
def tracker_script(request: Request) -> Response:
    """Serve the tracker under its stable name (cached for a day)."""
    return _script_response(request, tracker.STABLE_CACHE, tracker.SCRIPT)


@router.api_route("/a-{version}.js", methods=["GET", "HEAD"], include_in_schema=False)
def versioned_tracker_script(request: Request, version: str) -> Response:
    """Serve the tracker under its versioned name (immutable); an old version redirects."""
    if version != tracker.SCRIPT.version:
        return RedirectResponse("/a.js", status_code=307, headers={"Cache-Control": "no-store"})
    return _script_response(request, tracker.VERSIONED_CACHE, tracker.SCRIPT)


@router.api_route("/js/{name}", methods=["GET", "HEAD"], include_in_schema=False)
def plausible_script(request: Request, name: str) -> Response:
    """Serve the tracker under Plausible's names, with the extensions the name asks for.

    ``/js/script.js``, ``/js/script.outbound-links.hash.js`` (any order), ``/js/plausible.js``.
    """
    return _script_response(request, tracker.STABLE_CACHE, tracker.named(name))


class OriginCache:
    """Which origins may send events, remembered until the registry re-reads the sites.

    An origin is a scheme and a host (nothing about a visitor): the decision depends only on the
    sites, so it is kept for as long as the registry holds the same list of sites (a new list is
    a new object), and at most :data:`ORIGINS` origins are kept (then it starts again).
    """

    ORIGINS = 1024

    def __init__(self) -> None:
        self.sites: object = None
        self.allowed: dict[str | None, str | None] = {}

    def allowed_origin(self, analytics: Analytics, origin: str | None) -> str | None:
        """Return ``origin`` if pages there may send events (see ``Analytics.allowed_origin``)."""
        sites = analytics.registry.sites
        if sites is not self.sites or len(self.allowed) >= self.ORIGINS:
            self.sites, self.allowed = sites, {}
        try:
            return self.allowed[origin]
        except KeyError:
            allowed = self.allowed[origin] = analytics.allowed_origin(origin)
            return allowed


_origin_caches: weakref.WeakKeyDictionary[Analytics, OriginCache] = weakref.WeakKeyDictionary()


def _origins(analytics: Analytics) -> OriginCache:
    cache = _origin_caches.get(analytics)
    if cache is None:
        cache = _origin_caches[analytics] = OriginCache()
    return cache


def _cors_for(analytics: Analytics, origin: str | None) -> dict[str, str]:
    return _cors_headers(_origins(analytics).allowed_origin(analytics, origin))


def _cors_headers(allowed: str | None) -> dict[str, str]:
    """Return the CORS headers of an answer to a page of origin ``allowed`` (None: not one)."""
    headers = {"Vary": "Origin"}
    if allowed is not None:
        headers["Access-Control-Allow-Origin"] = allowed
    return headers


def _cors(analytics: Analytics, request: Request) -> dict[str, str]:
    return _cors_for(analytics, request.headers.get("origin"))


@router.options("/api/event", include_in_schema=False)
async def event_preflight(request: Request) -> Response:
    """Answer a CORS pre-flight: allowed for pages of counted sites only."""
    analytics = _analytics(request)
    headers = _cors(analytics, request)
    if "Access-Control-Allow-Origin" not in headers:
        # A site added a moment ago by the CLI: look again before refusing.
        await analytics.registry.refresh(missed=True)
        headers = _cors(analytics, request)
    if "Access-Control-Allow-Origin" not in headers:
        exc = OriginNotAllowed(
            "only pages of the sites counted here may send events from a browser",
            origin=(request.headers.get("origin") or "")[:300],
        )
        # Answered here, with the CORS headers, not by the handlers that count refusals.
        errors.count(request.scope, exc.error)
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)
    headers.update(
        {
            "Access-Control-Allow-Methods": "POST",
            "Access-Control-Allow-Headers": "Content-Type",
            "Access-Control-Max-Age": PREFLIGHT_MAX_AGE,
        }
    )
    return Response(status_code=204, headers=headers)


async def _read_body(receive: Receive, declared: str) -> bytes:
    if declared.isdigit() and int(declared) > MAX_EVENT_BYTES:
        raise _too_large()
    chunks: list[bytes] = []
    size = 0
    while True:
        message = await receive()
        if message["type"] != "http.request":
            raise ClientDisconnect()
        chunk: bytes = message.get("body", b"")
        if chunk:
            chunks.append(chunk)
            size += len(chunk)
            if size > MAX_EVENT_BYTES:
                raise _too_large()
        if not message.get("more_body", False):
            return chunks[0] if len(chunks) == 1 else b"".join(chunks)


class EventHeaders(NamedTuple):
    """The request headers the event endpoint reads, found in one pass over the scope's."""

    content_type: str = ""
    content_length: str = ""
    user_agent: str = ""
    origin: str | None = None


_WANTED = {b"content-type", b"content-length", b"user-agent", b"origin"}


def _event_headers(scope: Scope) -> EventHeaders:
    found: dict[bytes, str] = {}
    for name, value in scope["headers"]:
        # ASGI servers give names in lower case; the first of a repeated header counts.
        if name in _WANTED and name not in found:
            found[name] = value.decode("latin-1")
    return EventHeaders(
        found.get(b"content-type", ""),
        found.get(b"content-length", ""),
        found.get(b"user-agent", ""),
        found.get(b"origin"),
    )


@functools.lru_cache(maxsize=64)
def _accepted_body(stored: int, dropped: str | None) -> bytes:
    """Return the JSON of an acceptance (a handful of distinct answers: rendered once each)."""
    answer = EventAccepted(stored=stored, dropped=dropped).model_dump(exclude_none=True)
    return bytes(JSONResponse(answer).body)


def _too_large() -> PayloadTooLarge:
    return PayloadTooLarge(
        f"an event is at most {MAX_EVENT_BYTES} bytes; nothing was stored",
        limit=MAX_EVENT_BYTES,
    )


DROPPED_HEADER = "X-Avowal-Dropped"

# The handler reads the body itself (see EventFastPath), so its schema is declared here.
EVENT_BODY = {
    "required": True,
    "content": {
        "application/json": {"schema": EventPayload.model_json_schema()},
        "text/plain": {
            "schema": {
                "type": "string",
                "description": "The same JSON object as text (as navigator.sendBeacon sends it).",
            }
        },
    },
}


@router.post(
    "/api/event",
    operation_id="record_event",
    status_code=202,
    response_model=EventAccepted,
    responses=problems.responses(
        400,
        403,
        404,
        413,
        415,
        503,
        s400="Refused: not a JSON object, a field breaks a rule, or nested deeper than "
        f"{text.MAX_DEPTH} levels (`too_deeply_nested`); nothing was stored.",
        s403="The policy counts no site (analytics are disabled).",
        s404="No counted site has this domain (`unknown_site`); nothing was stored.",
        s413=f"The body is over {MAX_EVENT_BYTES} bytes; nothing was stored.",
        s503="The event could not be committed; send it again (see `Retry-After`).",
    ),
    openapi_extra={"requestBody": EVENT_BODY},
)
async def event(request: Request) -> Response:
    """Record a page view or custom event; 202 means it is committed.

    Takes Plausible's Events API payload (``name``, ``url``, ``domain``, ``referrer``,
    ``props``) or the tracker's short names, as ``application/json`` or ``text/plain``.
    """
    answer = await _record(_analytics(request), request.scope, request.receive)
    return answer if isinstance(answer, Response) else answer.as_response()


async def _record(analytics: Analytics, scope: Scope, receive: Receive) -> Response | Accepted:
    """Record the event of a request; return its answer (a refusal, or the 202)."""
    # Read straight from the ASGI scope: the hottest path of the server (see EventFastPath).
    wanted = _event_headers(scope)
    try:
        media_type = wanted.content_type.split(";", 1)[0].strip().lower()
        if media_type not in MEDIA_TYPES:
            raise UnsupportedMediaType(
                "send the event as application/json or text/plain",
                content_type=media_type[:100],
            )
        body = await _read_body(receive, wanted.content_length)
        client = scope.get("client")
        ip = client[0] if client else ""
        ingest.DROPPED.set(())
        accepted = await analytics.ingest(body, ip, wanted.user_agent)
    except AvowalError as exc:
        # After ingest, which re-reads the sites when it meets an unknown one.
        headers = {**_cors_for(analytics, wanted.origin), **(exc.headers or {})}
        errors.count(scope, exc.error)  # answered here, not by the handlers that count refusals
        return JSONResponse(exc.body(), status_code=exc.status_code, headers=headers)
    allowed = _origins(analytics).allowed_origin(analytics, wanted.origin)
    return _accepted(allowed, accepted.stored, accepted.dropped, ingest.DROPPED.get())


class Accepted:
    """A 202, its headers and body rendered once for each origin and answer (see _accepted)."""

    __slots__ = ("body", "headers")

    def __init__(self, headers: tuple[tuple[bytes, bytes], ...], body: bytes) -> None:
        self.headers = headers
        self.body = body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        # A new list each time: the middlewares add their headers to it.
        start = {"type": "http.response.start", "status": 202, "headers": list(self.headers)}
        await send(start)
        await send({"type": "http.response.body", "body": self.body})

    def as_response(self) -> Response:
        """Return the same answer as a Starlette response (for the documented route)."""
        response = Response(self.body, status_code=202)
        response.raw_headers = list(self.headers)
        return response


@functools.lru_cache(maxsize=1024)
def _accepted(
    origin: str | None, stored: int, dropped: str | None, parts: tuple[str, ...]
) -> Accepted:
    """Return the 202 for an allowed ``origin`` (or none), ``stored`` events, a reason nothing
    was kept (``dropped``) and the parts of the event dropped (``parts``)."""
    headers = _cors_headers(origin)
    if parts:
        # Like Plausible, invalid parts are dropped and the rest kept; this says which.
        headers[DROPPED_HEADER] = ",".join(parts)
        headers["Access-Control-Expose-Headers"] = DROPPED_HEADER
    rendered = Response(
        _accepted_body(stored, dropped), headers=headers, media_type=JSON_MEDIA_TYPE
    )
    return Accepted(tuple(rendered.raw_headers), bytes(rendered.body))


EVENT_PATH = "/api/event"


class EventFastPath:
    """ASGI middleware answering ``/api/event`` before FastAPI's routing and dependency layers.

    The event endpoint is the hottest path of the server; going straight to the same handlers
    roughly doubles the events one process accepts per second. Installed innermost, so the
    proxy, security-header, TLS and body-limit middlewares still run first. The routes above
    remain for the API documentation.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == EVENT_PATH:
            method = scope["method"]
            if method == "POST":
                answer = await _record(scope["app"].state.analytics, scope, receive)
                await answer(scope, receive, send)
                return
            if method == "OPTIONS":
                response = await event_preflight(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)

"""The server side of the ingest benchmark, run as its own process by ``bench_ingest``.

``app``: the real application (``create_app``, as ``avowal serve`` builds it) with one extra
route, ``POST /bench/bare``, that reads the body and answers 202 with the event endpoint's small
JSON and does nothing else: the same process, middlewares and HTTP stack, without the ingest.
``POST /bench/bare-fast`` is the same answered by an ASGI middleware placed right behind
``EventFastPath`` (the same middlewares in front of it, no routing): the fair baseline. Both send
the JSON rendered once, as the event endpoint does.
``trivial``: a bare ASGI callable answering 202 to everything, to show how fast the HTTP server
and the load generator go on their own. ``GET /bench/stats`` tells how many group commits the
ingest has made (the benchmark asks before it kills the server with SIGKILL).

Both run under uvicorn as ``avowal serve`` runs it: one worker, no access log, no proxy headers.
The database must already be migrated (``bench_ingest`` does it).
"""

from __future__ import annotations

import argparse
from pathlib import Path

import uvicorn
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, Response
from starlette.middleware import Middleware
from starlette.types import ASGIApp, Receive, Scope, Send

from avowal.analytics.routes import EventFastPath

BARE_PATH = "/bench/bare"
BARE_FAST_PATH = "/bench/bare-fast"
STATS_PATH = "/bench/stats"
ACCEPTED = {"stored": 1}
# Rendered once, as the event endpoint renders its few answers once.
ACCEPTED_BODY = bytes(JSONResponse(ACCEPTED).body)


def accepted() -> Response:
    """Return the 202 answer of the bare endpoints."""
    return Response(ACCEPTED_BODY, status_code=202, media_type="application/json")


def real_app(data_dir: Path, database_url: str | None, policy_file: Path) -> FastAPI:
    """Return the application of ``avowal serve`` plus the bare endpoint."""
    from avowal.app import create_app
    from avowal.settings import Settings

    settings = Settings(data_dir=data_dir, database_url=database_url, policy_file=policy_file)
    app = create_app(settings)

    @app.get(STATS_PATH, include_in_schema=False)
    async def stats() -> dict[str, int]:
        return {"group_commits": app.state.analytics.batcher.batches}

    @app.post(BARE_PATH, status_code=202, include_in_schema=False)
    async def bare(request: Request) -> Response:
        await request.body()
        return accepted()

    # First in the routing table, so that it pays the least routing (FastAPI tries the routes,
    # and each included router's, in order): the cheapest ordinary endpoint this app can have.
    app.router.routes.insert(0, app.router.routes.pop())

    # A route of its own, as /api/event has (never reached: BareFastPath answers first), so
    # that the middlewares finding a request's route template (metrics, access log) treat
    # both paths alike: a path no route matches is looked for among every route, each time.
    @app.post(BARE_FAST_PATH, status_code=202, include_in_schema=False)
    async def bare_fast(request: Request) -> Response:
        await request.body()
        return accepted()

    # Right behind EventFastPath: the same middlewares run in front of both.
    at = next(i for i, m in enumerate(app.user_middleware) if m.cls is EventFastPath)
    app.user_middleware.insert(at + 1, Middleware(BareFastPath))
    return app


class BareFastPath:
    """Answer ``BARE_FAST_PATH`` where ``EventFastPath`` answers ``/api/event``: no routing."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["path"] == BARE_FAST_PATH:
            await Request(scope, receive).body()
            await accepted()(scope, receive, send)
            return
        await self.app(scope, receive, send)


async def trivial_app(scope: Scope, receive: Receive, send: Send) -> None:
    """Answer 202 with the same JSON to every request, after reading its body."""
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    more = True
    while more:
        message = await receive()
        more = message.get("more_body", False)
    body = b'{"stored":1}'
    status = 200 if scope["path"] == "/healthz" else 202
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


def main() -> None:
    """Serve until killed (the benchmark sends SIGKILL: nothing may depend on a clean stop)."""
    parser = argparse.ArgumentParser()
    parser.add_argument("mode", choices=["app", "trivial"])
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--data-dir", type=Path)
    parser.add_argument("--database-url")
    parser.add_argument("--policy", type=Path)
    args = parser.parse_args()
    if args.mode == "app":
        application: ASGIApp = real_app(args.data_dir, args.database_url, args.policy)
    else:
        application = trivial_app
    uvicorn.run(
        application,
        host="127.0.0.1",
        port=args.port,
        access_log=False,
        proxy_headers=False,
        server_header=False,
        log_level="warning",
    )


if __name__ == "__main__":
    main()

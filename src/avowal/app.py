"""The FastAPI application factory."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine
from starlette.middleware.gzip import GZipMiddleware

from avowal import __version__, console
from avowal.analytics import dashboard_routes as analytics_dashboard_routes
from avowal.analytics import routes as analytics_routes
from avowal.analytics import stats_api as analytics_stats_api
from avowal.analytics import worker as analytics_worker
from avowal.analytics.service import Analytics
from avowal.children import routes as children_routes
from avowal.consent import banner
from avowal.consent import routes as consent_routes
from avowal.crypto import service as crypto
from avowal.crypto.service import Secrets
from avowal.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker, transaction
from avowal.demo import routes as demo_routes
from avowal.lib import errors, heap, openapi
from avowal.lib.bodies import JsonDepthGuard
from avowal.lib.limits import BodyLimit
from avowal.lib.proxy import ProxyHeaders, parse_networks
from avowal.lib.security import (
    SecurityHeaders,
    TLSRequired,
    TrustedHosts,
    allowed_hosts,
    check_production,
)
from avowal.lifecycle import acceptance_routes
from avowal.lifecycle import routes as lifecycle_routes
from avowal.lifecycle import service as lifecycle
from avowal.lifecycle.holder import PolicyHolder
from avowal.mail import news_routes
from avowal.mail import worker as mail_worker
from avowal.policy import routes as policy_routes
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.promises import service as promises
from avowal.rights import api_routes as rights_api_routes
from avowal.rights import case_routes
from avowal.rights import routes as rights_routes
from avowal.settings import Settings
from avowal.vault import routes as vault_routes
from avowal.web import docs as web_docs
from avowal.web import metrics as web_metrics
from avowal.web import request_ids
from avowal.web import routes as web_routes

# Pages, stylesheets, scripts and JSON from the routes are gzipped when the client accepts it;
# below this size the headers outweigh the saving. Innermost, so the analytics event endpoint
# (answered by its own middleware, with a tiny 202) never goes through it, and answers that are
# already compressed (the tracker and banner scripts) pass through untouched.
GZIP_MINIMUM_BYTES = 1024


def create_app(
    settings: Settings | None = None,
    *,
    policy: LoadedPolicy | None = None,
    engine: Engine | None = None,
    secrets: Secrets | None = None,
    analytics_worker_in_process: bool | None = None,
) -> FastAPI:
    """Build the application for ``settings``; the policy is loaded and checked before serving.

    The analytics rollup worker and the mail worker run in-process for the embedded SQLite
    database (not in tests); with PostgreSQL run `avowal worker` beside the servers.
    """
    settings = settings or Settings()
    # Fail here, under any ASGI server, rather than on the first request.
    check_production(settings)
    parse_networks(settings.trusted_proxies)
    production = settings.env == "production"
    loaded = policy or load_file(settings.policy_file)
    engine = engine or make_engine(settings)
    if production:
        # Nothing is published that is not kept: every stated promise enforced or attested.
        promises.check_kept(settings, loaded, promises.attestations_from(engine))
        # Before serving, not in the lifespan: a refusal is one clear error, not a traceback.
        with make_read_sessionmaker(engine)() as session:
            lifecycle.require_published(session, loaded)
    secrets = secrets or crypto.load(settings)
    sessions = make_sessionmaker(engine)
    analytics = Analytics(settings, loaded.policy, engine, sessions)
    in_process = (
        analytics_worker_in_process
        if analytics_worker_in_process is not None
        else analytics_worker.runs_in_server(settings, engine.dialect.name)
    )

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with transaction(sessions) as session:
            lifecycle.start(session, loaded, production=production)
        policies.refresh()
        # Syncs the policy's analytics sites and starts the ingest's group-commit writer.
        await analytics.start()
        background = []
        if in_process:
            background = [
                asyncio.create_task(
                    analytics_worker.run_forever(sessions, settings, policies.current)
                ),
                asyncio.create_task(
                    mail_worker.run_forever(sessions, settings, secrets, policies.current)
                ),
            ]
        heap.freeze_once()  # everything built so far lives as long as the process
        yield
        # Uvicorn has answered every request by now; commit whatever is still queued.
        await analytics.stop()
        for task in background:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    app = FastAPI(
        title="avowal",
        version=__version__,
        description="A privacy policy that enforces itself.",
        lifespan=lifespan,
        # /docs comes from packaged assets (avowal.web.docs), outside production only.
        docs_url=None,
        redoc_url=None,
        generate_unique_id_function=openapi.operation_id,
    )
    openapi.install(app, own_errors=analytics_stats_api.OWN_ERROR_PATHS)
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessions
    app.state.read_sessionmaker = make_read_sessionmaker(engine)
    # This application's own Prometheus registry (GET /metrics), never the process-wide one.
    app.state.metrics = web_metrics.Metrics(app.state.read_sessionmaker)
    # What requests enforce: the version in effect, which may change while serving.
    policies = app.state.policies = PolicyHolder(
        make_read_sessionmaker(engine),
        loaded,
        refresh_seconds=settings.policy_refresh_seconds,
    )
    app.state.secrets = secrets
    app.state.analytics = analytics
    app.state.evidence_cache = promises.EvidenceCache(settings.evidence_cache_seconds)
    app.state.banner_scripts = banner.ScriptCache(settings.policy_refresh_seconds)
    errors.install(app)
    # The last added runs first: proxy headers, then security headers (so refusals get them
    # too), then the JSON answer to any failure, then known hosts only, then the TLS rule, then
    # the body limit, then the analytics event endpoint (which checks its own body), then the
    # nesting of every other JSON body, then compression of what the routes answer.
    app.add_middleware(GZipMiddleware, minimum_size=GZIP_MINIMUM_BYTES, compresslevel=6)
    app.add_middleware(JsonDepthGuard)
    app.add_middleware(analytics_routes.EventFastPath)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    if production:
        app.add_middleware(TLSRequired, public_url=settings.public_url)
    app.add_middleware(TrustedHosts, allowed=allowed_hosts(settings))
    app.add_middleware(errors.Failures)
    app.add_middleware(
        SecurityHeaders,
        production=production,
        csp_by_prefix={demo_routes.PREFIX: demo_routes.csp()} if settings.demo else None,
    )
    app.add_middleware(ProxyHeaders, trusted=settings.trusted_proxies)
    # Outermost: every request counted and timed by route template, every refusal by its code,
    # and every answer given its X-Request-ID.
    app.add_middleware(web_metrics.RequestMetrics, metrics=app.state.metrics, routes=app.routes)
    app.add_middleware(request_ids.RequestIds)
    app.include_router(web_routes.router)
    app.include_router(web_metrics.router)
    if not production:
        app.include_router(web_docs.router)
    if settings.demo:
        app.include_router(demo_routes.router)
    app.include_router(policy_routes.router)
    app.include_router(lifecycle_routes.router)
    app.include_router(vault_routes.router)
    app.include_router(children_routes.router)
    app.include_router(rights_api_routes.router)
    app.include_router(case_routes.router)
    app.include_router(rights_routes.router)
    app.include_router(news_routes.router)
    app.include_router(acceptance_routes.router)
    app.include_router(analytics_routes.router)
    app.include_router(analytics_dashboard_routes.router)
    app.include_router(analytics_stats_api.router)
    app.include_router(consent_routes.router)
    console.install(app)
    return app

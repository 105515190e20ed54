"""The FastAPI application factory."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from sqlalchemy import Engine

from avowal import __version__
from avowal.crypto import service as crypto
from avowal.crypto.service import Secrets
from avowal.db.engine import make_engine, make_sessionmaker, transaction
from avowal.lib import errors
from avowal.lib.limits import BodyLimit
from avowal.lifecycle import service as lifecycle
from avowal.policy import routes as policy_routes
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.settings import Settings
from avowal.vault import routes as vault_routes
from avowal.web import routes as web_routes


def create_app(
    settings: Settings | None = None,
    *,
    policy: LoadedPolicy | None = None,
    engine: Engine | None = None,
    secrets: Secrets | None = None,
) -> FastAPI:
    """Build the application for ``settings``; the policy is loaded and checked before serving."""
    settings = settings or Settings()
    loaded = policy or load_file(settings.policy_file)
    engine = engine or make_engine(settings)
    secrets = secrets or crypto.load(settings)
    sessions = make_sessionmaker(engine)

    @asynccontextmanager
    async def lifespan(_: FastAPI) -> AsyncIterator[None]:
        with transaction(sessions) as session:
            lifecycle.record(session, loaded)
        yield

    app = FastAPI(
        title="avowal",
        version=__version__,
        description="A privacy policy that enforces itself.",
        lifespan=lifespan,
    )
    app.state.settings = settings
    app.state.engine = engine
    app.state.sessionmaker = sessions
    app.state.policy = loaded
    app.state.secrets = secrets
    errors.install(app)
    app.add_middleware(BodyLimit, limit=settings.max_body_bytes)
    app.include_router(web_routes.router)
    app.include_router(policy_routes.router)
    app.include_router(vault_routes.router)
    return app

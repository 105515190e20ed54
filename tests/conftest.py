"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from avowal.app import create_app
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.settings import EXAMPLE_POLICY, Settings
from tests import pg

REPO_ROOT = Path(__file__).resolve().parent.parent


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[pg.PostgresServer]:
    """Yield the session's PostgreSQL server: AVOWAL_TEST_POSTGRES_URL or a throwaway cluster."""
    given = pg.server_from_env()
    if given is not None:
        yield given
        return
    if not pg.binaries_available():
        reason = (
            f"PostgreSQL 15 not found in {pg.PG_BIN}; install postgresql-15 "
            f"or set {pg.URL_ENV}=postgresql+psycopg://user@host:port/db"
        )
        if pg.in_ci():
            pytest.fail(f"CI must run the PostgreSQL tests: {reason}", pytrace=False)
        pytest.skip(reason)
    try:
        cluster = pg.TempCluster.start()
    except pg.ClusterError as exc:
        error = str(exc)
    else:
        error = ""
    if error:
        pytest.fail(f"could not start a throwaway PostgreSQL cluster: {error}", pytrace=False)
    try:
        yield cluster.server
    finally:
        cluster.stop()


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a fresh, empty database of each kind, removed after the test."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
        return
    server: pg.PostgresServer = request.getfixturevalue("postgres_server")
    url = server.create_database()
    try:
        yield url
    finally:
        server.drop_database(url)


@pytest.fixture
def settings(db_url: str, tmp_path: Path) -> Settings:
    """Return test settings on the fresh database, enforcing the example policy."""
    return Settings(
        env="test",
        data_dir=tmp_path,
        database_url=db_url,
        policy_file=REPO_ROOT / EXAMPLE_POLICY,
    )


@pytest.fixture
def engine(settings: Settings) -> Iterator[Engine]:
    """Yield an engine on the fresh database, migrated to head."""
    engine = make_engine(settings)
    try:
        migrate.upgrade(engine)
        yield engine
    finally:
        engine.dispose()


@pytest.fixture
def app(settings: Settings, engine: Engine) -> FastAPI:
    """Return the application on the migrated test database."""
    return create_app(settings, engine=engine)


@pytest.fixture
def client(app: FastAPI) -> Iterator[TestClient]:
    """Yield a test client with the app's lifespan (startup and shutdown) running."""
    with TestClient(app) as client:
        yield client

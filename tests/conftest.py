"""Shared fixtures: every database test runs on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from avowal import app as app_module
from avowal import cli_support
from avowal.app import create_app
from avowal.db import migrate
from avowal.db.engine import make_engine
from avowal.lib import files
from avowal.policy import loader
from avowal.policy.loader import LoadedPolicy
from avowal.settings import EXAMPLE_POLICY, Settings
from tests import clickhouse, pg

REPO_ROOT = Path(__file__).resolve().parent.parent
# The URL of a PostgreSQL database db_url made as a copy of the migrated template.
FROM_TEMPLATE = pytest.StashKey[str]()


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


@pytest.fixture(scope="session", autouse=True)
def policy_files_checked_once() -> Iterator[None]:
    """Let create_app and the command line parse and check each policy file once per session.

    They read the file with ``load_file`` (YAML, schema and semantic checks: tens of milliseconds
    for the example policy, once per app and so once per test). Its answer for the same path and
    the same bytes is kept: the policy is frozen, and the server itself keeps parsed versions
    (lifecycle's cache). A changed file is read again; a file that fails is never kept, so each
    refusal is checked anew. Tests calling ``loader.load_file`` themselves are not affected.
    """
    real = loader.load_file
    parsed: dict[tuple[str, bytes], LoadedPolicy] = {}

    def load_file(path: Path) -> LoadedPolicy:
        try:
            key = (str(path), path.read_bytes())
        except OSError:
            return real(path)
        if key not in parsed:
            parsed[key] = real(path)
        return parsed[key]

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(app_module, "load_file", load_file)
        patch.setattr(cli_support, "load_file", load_file)
        yield


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """Return an SQLite database migrated to head, as bytes: the engine fixture starts each test
    from a copy instead of running every migration again."""
    folder = tmp_path_factory.mktemp("sqlite-template")
    path = folder / "avowal.sqlite3"
    engine = make_engine(
        Settings(
            env="test",
            data_dir=folder,
            database_url=f"sqlite:///{path}",
            policy_file=REPO_ROOT / EXAMPLE_POLICY,
        )
    )
    try:
        migrate.upgrade(engine)
    finally:
        # Closing the last connection folds the write-ahead log into the file and removes it.
        engine.dispose()
    leftovers = [p.name for p in folder.iterdir() if p != path]
    assert not leftovers, f"the migrated template left {leftovers} beside it"
    return path.read_bytes()


@pytest.fixture(scope="session")
def postgres_template(postgres_server: pg.PostgresServer) -> Iterator[pg.Supply]:
    """Yield the supply of copies (CREATE DATABASE ... TEMPLATE) of a PostgreSQL database
    migrated to head, for each test using the engine fixture, instead of running every migration
    again."""
    url = postgres_server.create_database()
    engine = make_engine(
        Settings(
            env="test",
            data_dir=REPO_ROOT,  # unused by a server database
            database_url=url,
            policy_file=REPO_ROOT / EXAMPLE_POLICY,
        )
    )
    try:
        migrate.upgrade(engine)
    finally:
        # A template must have no open connection while it is copied.
        engine.dispose()
    supply = pg.Supply(postgres_server, postgres_server.database_name(url))
    try:
        yield supply
    finally:
        try:
            supply.close()
        finally:
            postgres_server.drop_database(url)


@pytest.fixture(
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgresql", id="postgresql", marks=pytest.mark.postgres),
    ]
)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """Yield the URL of a fresh database of each kind, removed after the test.

    It is empty, except a PostgreSQL database of a test using the engine fixture: that one is
    made as a copy of the migrated template (engine migrates an SQLite one from its template).
    """
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'avowal.sqlite3'}"
        return
    server: pg.PostgresServer = request.getfixturevalue("postgres_server")
    if "engine" in request.fixturenames:
        supply: pg.Supply = request.getfixturevalue("postgres_template")
        url = supply.take()
        request.node.stash[FROM_TEMPLATE] = url
        try:
            yield url
        finally:
            supply.give_back(url)
        return
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
def engine(request: pytest.FixtureRequest, settings: Settings) -> Iterator[Engine]:
    """Yield an engine on the fresh database, migrated to head.

    The database is a copy of one migrated to head once per session (the migrations themselves
    are tested in tests/integration/db/test_migrations.py); a database that is not fresh is
    migrated here.
    """
    engine = make_engine(settings)
    try:
        if not _copied_template(request, settings, engine):
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


def _copied_template(request: pytest.FixtureRequest, settings: Settings, engine: Engine) -> bool:
    """Start the engine's database from the migrated template if it is fresh; return whether."""
    url = settings.effective_database_url
    if engine.dialect.name == "postgresql":
        return request.node.stash.get(FROM_TEMPLATE, None) == url
    path = files.sqlite_file(engine)
    if path is None or path.stat().st_size or path.with_name(path.name + "-wal").exists():
        return False
    # make_engine created the file empty and private (0600); fill it, keeping its mode.
    template: bytes = request.getfixturevalue("sqlite_template")
    with path.open("r+b") as out:
        out.write(template)
    return True


@pytest.fixture(scope="session")
def chdb_folder(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Return the folder of this test process's embedded ClickHouse (chdb opens one per
    process)."""
    return tmp_path_factory.mktemp("chdb")


@pytest.fixture
def clickhouse_url(chdb_folder: Path) -> Iterator[str]:
    """Yield the ``AVOWAL_ANALYTICS_URL`` of a fresh ClickHouse database, dropped afterwards."""
    from avowal.analytics.clickhouse import connection

    url = clickhouse.folder_url(chdb_folder, clickhouse.new_database_name())
    target = connection.parse(url)
    yield url
    connection.connect(target).command(f"DROP DATABASE IF EXISTS {target.database}")

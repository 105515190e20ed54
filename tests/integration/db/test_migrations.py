"""Migrations build the schema the models describe, on SQLite and on PostgreSQL."""

from __future__ import annotations

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, inspect, select

from avowal.app import create_app
from avowal.db import migrate
from avowal.db.models import Base
from avowal.lifecycle.models import PolicyVersion
from avowal.settings import Settings


def tables(engine: Engine) -> set[str]:
    return set(inspect(engine).get_table_names())


def test_upgrade_downgrade_upgrade(bare_engine: Engine) -> None:
    assert migrate.current(bare_engine) is None
    assert "policy_versions" not in tables(bare_engine)

    migrate.upgrade(bare_engine)
    assert "policy_versions" in tables(bare_engine)
    assert migrate.current(bare_engine) == migrate.head(bare_engine)
    assert migrate.head(bare_engine) is not None

    migrate.downgrade(bare_engine, "base")
    assert migrate.current(bare_engine) is None
    # Only Alembic's own bookkeeping table may stay behind.
    assert tables(bare_engine) <= {"alembic_version"}

    migrate.upgrade(bare_engine)
    assert "policy_versions" in tables(bare_engine)
    assert migrate.current(bare_engine) == migrate.head(bare_engine)


def test_migrations_match_models(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, Base.metadata)
    assert diff == []
    assert set(Base.metadata.tables) <= tables(engine)


def test_app_records_policy_version_on_startup(settings: Settings, engine: Engine) -> None:
    with engine.connect() as connection:
        assert connection.scalar(select(func.count()).select_from(PolicyVersion)) == 0

    app = create_app(settings, engine=engine)
    with TestClient(app) as client:
        response = client.get("/healthz")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    with engine.connect() as connection:
        recorded = connection.scalars(select(PolicyVersion.version_id)).all()
    assert recorded == [body["policy_version"]]

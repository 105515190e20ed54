"""Where a test's analytics events are kept: a module marked with :data:`BOTH_STORES` runs each
of its tests with them in the database and again in ClickHouse (chdb's embedded engine); the
``analytics_store`` fixture (conftest) configures it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from sqlalchemy import Engine, Table, select

from avowal.analytics.clickhouse import events, schema
from avowal.analytics.models import Event
from avowal.settings import Settings

DATABASE, CLICKHOUSE = "database", "clickhouse"
EVENTS: Table = Event.__table__  # type: ignore[assignment]
# Raw events kept this long in the tests' ClickHouse: ClickHouse applies a TTL with the real
# clock, while the tests' data sets lie on fixed days of 2026 that avowal's frozen clock keeps.
TEST_RETENTION_DAYS = 3650

# Marks a module (or a test): each of its tests that keeps analytics events runs on both stores.
BOTH_STORES = pytest.mark.both_stores
# Marks a test of a BOTH_STORES module that is about the database store's own tables.
DATABASE_ONLY = pytest.mark.both_stores(DATABASE)

# The stored events, in arrival order (the ``stored`` fixture).
Rows = Callable[[], list[dict[str, Any]]]


def stored_rows(settings: Settings, engine: Engine) -> list[dict[str, Any]]:
    """Return the events kept under ``settings``, in arrival order, as columns of
    ``schema.COLUMNS`` (from ClickHouse if they are kept there; no props is None in both)."""
    clickhouse = events.of(settings)
    if clickhouse is None:
        with engine.connect() as conn:
            found = conn.execute(select(*EVENTS.c[*schema.COLUMNS]).order_by(EVENTS.c.id))
            return [dict(row) for row in found.mappings()]
    names = ", ".join(schema.COLUMNS)
    result = clickhouse.client().query(f"SELECT {names} FROM {schema.TABLE} ORDER BY id")
    rows = [dict(zip(schema.COLUMNS, row, strict=True)) for row in result.result_rows]
    for row in rows:
        row["props"] = row["props"] or None
    return rows

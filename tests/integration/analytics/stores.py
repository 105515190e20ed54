"""Where a test's analytics events are kept: a module marked with :data:`BOTH_STORES` runs each
of its tests with them in the database and again in ClickHouse (chdb's embedded engine); the
``analytics_store`` fixture (conftest) configures it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

DATABASE, CLICKHOUSE = "database", "clickhouse"
# Raw events kept this long in the tests' ClickHouse: ClickHouse applies a TTL with the real
# clock, while the tests' data sets lie on fixed days of 2026 that avowal's frozen clock keeps.
TEST_RETENTION_DAYS = 3650

# Marks a module (or a test): each of its tests that keeps analytics events runs on both stores.
BOTH_STORES = pytest.mark.both_stores
# Marks a test of a BOTH_STORES module that is about the database store's own tables.
DATABASE_ONLY = pytest.mark.both_stores(DATABASE)

# The stored events, in arrival order (the ``stored`` fixture).
Rows = Callable[[], list[dict[str, Any]]]

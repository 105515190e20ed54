"""The analytics store of a test (:mod:`tests.integration.analytics.stores`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from avowal.analytics.clickhouse import events
from avowal.lib import clock
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import API, NOW, RANGE, store_known
from tests.integration.analytics.stores import (
    CLICKHOUSE,
    DATABASE,
    TEST_RETENTION_DAYS,
    Rows,
    stored_rows,
)


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    """Run each test marked ``both_stores`` that keeps events (uses ``settings``) on both (or on
    the stores the closest mark names)."""
    mark = metafunc.definition.get_closest_marker("both_stores")
    if mark is not None and "analytics_store" in metafunc.fixturenames:
        stores = list(mark.args) or [DATABASE, CLICKHOUSE]
        metafunc.parametrize("analytics_store", stores, indirect=True)


@pytest.fixture
def analytics_store(request: pytest.FixtureRequest) -> str:
    """Return where the test's analytics events are kept (the database unless parametrized)."""
    return str(getattr(request, "param", DATABASE))


@pytest.fixture
def settings(settings: Settings, analytics_store: str, request: pytest.FixtureRequest) -> Settings:
    """Return the test settings, keeping analytics in a fresh ClickHouse database if asked."""
    if analytics_store == DATABASE:
        return settings
    url: str = request.getfixturevalue("clickhouse_url")
    configured = settings.model_copy(update={"analytics_url": url})
    store = events.of(configured)
    assert store is not None
    store.upgrade(TEST_RETENTION_DAYS)
    return configured


@pytest.fixture
def basis(analytics_store: str) -> Callable[[str], str]:
    """Return the ``basis`` a dashboard answer names, given the database store's."""
    return lambda relational: relational if analytics_store == DATABASE else CLICKHOUSE


@pytest.fixture
def stored(settings: Settings, engine: Engine) -> Rows:
    """Return a function listing the stored events in arrival order, from the test's store
    (ClickHouse's rows shaped as the database's: no props is None)."""
    return lambda: stored_rows(settings, engine)


@pytest.fixture
def known(app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> int:
    """Store the known data set and roll up 7-13 March; the dashboard's clock reads NOW."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return store_known(app)


@pytest.fixture
def get(client: TestClient, tokens: dict[str, str]) -> Callable[..., Any]:
    """GET a dashboard API path of the known site over the known range (``params`` added) as
    the reporting job; return the JSON (asserting 200)."""

    def call(path: str, **params: Any) -> Any:
        answer = client.get(
            f"{API}/{path}",
            params={**RANGE, **params},
            headers={"Authorization": f"Bearer {tokens['reporting_service']}"},
        )
        assert answer.status_code == 200, answer.text
        return answer.json()

    return call

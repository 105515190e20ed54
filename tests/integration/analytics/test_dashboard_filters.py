"""Dashboard filters on any dimension of the registry, one or two, and their negation.

The data set is test_dashboard.py's (its docstring tabulates every visit of 10-12 March 2026).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.analytics import dimensions
from avowal.lib import clock
from tests.integration.analytics.dashboard_data import (
    API,
    NOW,
    RANGE,
    store_every_dimension,
)
from tests.integration.analytics.stores import BOTH_STORES

# Every figure, with the events in the database and in ClickHouse.
pytestmark = BOTH_STORES


@pytest.fixture
def full(app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> int:
    """The known data set and F1, a visit with a value under every dimension."""
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return store_every_dimension(app)


def _counts(got: dict[str, Any]) -> tuple[int, int, int]:
    t = got["totals"]
    return t["visitors"], t["visits"], t["pageviews"]


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        # A1, A2, A'1, E1 (visitor 1 twice on the 10th, once on the 11th; visitor 5).
        (["country:DE"], (3, 4, 6)),
        # B1, C1, D1.
        (["country!:DE"], (3, 3, 5)),
        (["event:Signup"], (1, 1, 3)),
        (["prop:plan=pro"], (1, 1, 3)),
        (["entry_page:/"], (4, 4, 6)),
        (["exit_page:/docs"], (2, 2, 6)),
        (["device:mobile"], (2, 2, 4)),
        (["utm_campaign:spring"], (2, 2, 4)),
        (["referrer:t.co"], (1, 1, 1)),
        (["source:Direct / None"], (3, 3, 3)),
        # Two filters, one negated: A2, A'1, E1.
        (["country:DE", "event!:Signup"], (3, 3, 3)),
        (["browser:Firefox", "os!:Linux"], (1, 1, 1)),
    ],
)
def test_filters_on_any_dimension(
    known: int,
    get: Callable[..., Any],
    filters: list[str],
    expected: tuple[int, int, int],
    basis: Callable[[str], str],
) -> None:
    got = get("summary", filter=filters)
    assert got["filters"] == filters and got["basis"] == basis("raw_events")
    assert _counts(got) == expected


def test_a_filtered_table_keeps_only_the_selected_visits(
    known: int, get: Callable[..., Any]
) -> None:
    rows = get("breakdown/source", filter="country!:DE")["rows"]
    assert sorted((r["value"], r["visits"]) for r in rows) == [
        ("Direct / None", 1),
        ("Google", 1),
        ("Twitter", 1),
    ]
    goals = get("breakdown/event", filter="prop:plan=pro")["rows"]
    assert [(r["value"], r["visitors"]) for r in goals] == [("Signup", 1)]


@pytest.mark.parametrize("dimension", dimensions.NAMES)
def test_a_filter_and_its_negation_split_every_visit(
    full: int, get: Callable[..., Any], dimension: str
) -> None:
    """For each dimension, the visits with its top value and those without it are all visits."""
    everything = _counts(get("summary"))
    rows = get(f"breakdown/{dimension}")["rows"]
    assert rows, f"the data set has no {dimension}"
    value = rows[0]["value"]
    with_it = _counts(get("summary", filter=f"{dimension}:{value}"))
    without = _counts(get("summary", filter=f"{dimension}!:{value}"))
    assert with_it[1] > 0
    assert with_it[1] + without[1] == everything[1], (dimension, value)
    assert with_it[2] + without[2] == everything[2], (dimension, value)


def test_a_bad_filter_is_named_with_the_kinds(
    known: int, client: TestClient, tokens: dict[str, str]
) -> None:
    answer = client.get(
        f"{API}/summary",
        params={**RANGE, "filter": ["country:DE", "colour!:red"]},
        headers={"Authorization": f"Bearer {tokens['reporting_service']}"},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["field"] == "filter" and body["filter"] == "colour!:red"
    assert body["kinds"] == list(dimensions.NAMES)
    assert "'colour!:red'" in body["message"] and "utm_campaign" in body["message"]

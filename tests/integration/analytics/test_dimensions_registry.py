"""Every dimension of the registry reaches every consumer: adding one touches one place.

For each dimension of ``avowal.analytics.dimensions.DIMENSIONS``: the dashboard's breakdown
endpoint answers its table, its CSV export has its columns, it filters the dashboard (and its
negation), the dashboard page shows its table with rows linking to its filter, the Stats API
breaks down and filters by its Plausible name (v1 and v2), and docs/analytics.md names it. The
data set (``store_every_dimension``) has a value under every dimension.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from avowal.analytics import dashboard, dimensions, share
from avowal.analytics.dimensions import Dimension
from avowal.lib import clock
from tests.integration.analytics.dashboard_data import API, NOW, RANGE, SITE, store_every_dimension

CUSTOM = {"period": "custom", "date": "2026-03-10,2026-03-12"}
DOC = Path(__file__).resolve().parents[3] / "docs" / "analytics.md"
# A custom property of the data set, for the `prop` dimension's Plausible name.
PROP_KEY = "tier"


@pytest.fixture
def full(app: FastAPI, client: TestClient, monkeypatch: pytest.MonkeyPatch) -> int:
    monkeypatch.setattr(clock, "now", lambda: NOW)
    return store_every_dimension(app)


@pytest.fixture
def auth(tokens: dict[str, str]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['reporting_service']}"}


def _ok(answer: Any) -> Any:
    assert answer.status_code == 200, answer.text
    return answer.json() if "json" in answer.headers["content-type"] else answer.text


def _plausible(d: Dimension) -> str:
    return f"event:props:{PROP_KEY}" if d.kind == dimensions.PROP else d.plausible


def _top(client: TestClient, auth: dict[str, str], d: Dimension) -> str:
    if d.kind == dimensions.PROP:
        return f"{PROP_KEY}=team"
    rows = _ok(client.get(f"{API}/breakdown/{d.name}", params=RANGE, headers=auth))["rows"]
    assert rows, f"no rows for {d.name}"
    value: str = rows[0]["value"]
    return value


@pytest.mark.parametrize("d", dimensions.DIMENSIONS, ids=dimensions.NAMES)
def test_every_dimension_has_a_table_a_csv_and_a_filter(
    full: int, client: TestClient, auth: dict[str, str], d: Dimension
) -> None:
    got = _ok(client.get(f"{API}/breakdown/{d.name}", params=RANGE, headers=auth))
    assert got["dimension"] == d.name and got["rows"]
    csv = _ok(client.get(f"{API}/export.csv", params={**RANGE, "table": d.name}, headers=auth))
    header = csv.splitlines()[0].split(",")
    assert header[: 1 + len(dashboard.COLUMNS[d.rows])] == ["value", *dashboard.COLUMNS[d.rows]]
    assert len(csv.splitlines()) == 1 + len(
        _ok(client.get(f"{API}/breakdown/{d.name}", params={**RANGE, "limit": 1000}, headers=auth))[
            "rows"
        ]
    )
    value = _top(client, auth, d)
    for text in (f"{d.name}:{value}", f"{d.name}!:{value}"):
        summary = _ok(client.get(f"{API}/summary", params={**RANGE, "filter": text}, headers=auth))
        assert summary["filters"] == [text]


def test_the_dashboard_page_shows_every_table_linking_to_its_filter(
    app: FastAPI, full: int, client: TestClient, auth: dict[str, str]
) -> None:
    with app.state.sessionmaker.begin() as session:
        token = share.create(session, SITE)
    page = _ok(client.get(f"/share/{token}", params=RANGE))
    for d in dimensions.DIMENSIONS:
        assert f'id="t-{d.name}">{html.escape(d.title)}</h2>' in page, d.name
        value = _top(client, auth, d)
        link = f"filter={quote(f'{d.name}:{value}', safe='')}"
        assert link in page, (d.name, link)
    # Pages show their scroll depth, goals their revenue (F1: /features 80%, Purchase EUR 42.5).
    features = page.split(">/features</a>", 1)[1].split("</tr>", 1)[0]
    assert "<td>80.0%</td>" in features and "<td>20s</td>" in features
    purchase = page.split(">Purchase</a>", 1)[1].split("</tr>", 1)[0]
    assert "<td>EUR 42.5</td>" in purchase
    filtered = _ok(client.get(f"/share/{token}", params={**RANGE, "filter": "country!:DE"}))
    assert "Country is not DE" in filtered
    assert "filter=country%3ADE" in filtered  # the link turning it around


@pytest.mark.parametrize("d", dimensions.DIMENSIONS, ids=dimensions.NAMES)
def test_the_stats_api_breaks_down_and_filters_by_every_dimension(
    full: int, client: TestClient, auth: dict[str, str], d: Dimension
) -> None:
    name = _plausible(d)
    # v1 has no views per visit in a breakdown (Plausible's rule); v2 has.
    metrics = [m for m in d.metrics if m != "views_per_visit"]
    rows = _ok(
        client.get(
            "/api/v1/stats/breakdown",
            params={"site_id": SITE, **CUSTOM, "property": name, "metrics": ",".join(metrics)},
            headers=auth,
        )
    )["results"]
    assert rows and set(rows[0]) == {name.rsplit(":", 1)[1], *metrics}
    value = _top(client, auth, d)
    plain = value.split("=", 1)[1] if d.kind == dimensions.PROP else value
    filtered = _ok(
        client.get(
            "/api/v1/stats/aggregate",
            params={"site_id": SITE, **CUSTOM, "filters": f"{name}=={plain}"},
            headers=auth,
        )
    )
    dashboard_visitors = _ok(
        client.get(f"{API}/summary", params={**RANGE, "filter": f"{d.name}:{value}"}, headers=auth)
    )["totals"]["visitors"]
    assert filtered["results"]["visitors"]["value"] == dashboard_visitors > 0
    body = {
        "site_id": SITE,
        "metrics": list(d.metrics),
        "date_range": ["2026-03-10", "2026-03-12"],
        "dimensions": [name],
        "filters": [["is_not", name, [plain]]],
    }
    answer = _ok(client.post("/api/v2/query", json=body, headers=auth))
    assert all(r["dimensions"] != [plain] for r in answer["results"])


def test_the_docs_name_every_dimension() -> None:
    text = DOC.read_text(encoding="utf-8")
    for d in dimensions.DIMENSIONS:
        assert f"`{d.name}`" in text, d.name
        assert f"`{d.plausible}`" in text, d.plausible

"""Archived filters: a used filter's final days are archived by the worker and read back exactly
as a computation from raw events answers; a late event forgets its day; unused filters go."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import archive, dimensions, worker
from avowal.analytics.filters import VisitFilter
from avowal.analytics.models import ArchivedDay, ArchivedRollup, FilterUse
from avowal.analytics.query import DayRange
from avowal.analytics.readers import RawReader
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import add_events, add_site, event, random_events

FIRST = dt.date(2026, 3, 2)
DAYS = 4
RANGE = DayRange(FIRST, FIRST + dt.timedelta(days=DAYS - 1))
# The day after the data, midday: every day of it is final, and within the raw retention.
NOW = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS), dt.time(12), tzinfo=dt.UTC)
CASES = [
    (VisitFilter("source", "Google"),),
    (VisitFilter("source", "Direct / None"),),
    (VisitFilter("page", "/pricing"),),
    (VisitFilter("country", "DE", negated=True),),
    (VisitFilter("event", "Signup"),),
    (VisitFilter("prop", "plan=pro"),),
    (VisitFilter("device", "mobile"), VisitFilter("entry_page", "/")),
]


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def policy(settings: Settings) -> LoadedPolicy:
    return load_file(settings.policy_file)


@pytest.fixture
def site(sessions: sessionmaker[Session]) -> int:
    with sessions.begin() as session:
        site_id = add_site(session)
        add_events(session, random_events(site_id, FIRST, DAYS))
    return site_id


def figures(found: Any) -> Any:
    if isinstance(found, dict):
        return {k: tuple(vars_of(t)) for k, t in found.items()}
    return [(v, tuple(vars_of(t))) for v, t in found]


def vars_of(t: Any) -> list[int]:
    return [
        t.visitors,
        t.visits,
        t.pageviews,
        t.bounces,
        t.duration_s,
        t.events,
        t.engaged_ms,
        t.scroll_sum,
        t.scrolls,
        t.revenue_micros,
    ]


def assert_same(session: Session, site_id: int, filters: tuple[VisitFilter, ...]) -> None:
    """The reader with the archive answers what a computation from raw events answers."""
    kept = RawReader(session, site_id, filters, visit_minutes=30)
    raw = RawReader(session, site_id, filters, visit_minutes=30, archived=False)
    assert figures(kept.by_day(RANGE)) == figures(raw.by_day(RANGE)), filters
    for name in dimensions.NAMES:
        assert figures(kept.breakdown(name, RANGE, None)) == figures(
            raw.breakdown(name, RANGE, None)
        ), (filters, name)
        top = [v for v, _ in raw.breakdown(name, RANGE, 2)]
        assert figures(kept.values(name, RANGE, top)) == figures(raw.values(name, RANGE, top))


def test_used_filters_are_archived_and_read_back_exactly(
    sessions: sessionmaker[Session], site: int, settings: Settings, policy: LoadedPolicy
) -> None:
    worker.run_pass(sessions, settings, policy, NOW)  # rollups first: the days turn final
    with sessions.begin() as session:
        for filters in CASES:
            archive.note_use(session, site, filters, NOW)
    report = worker.run_pass(sessions, settings, policy, NOW)
    assert not report.failed
    assert len(report.archived) == min(archive.DAYS_PER_PASS, len(CASES) * DAYS)
    while worker.run_pass(sessions, settings, policy, NOW).archived:
        pass
    with sessions() as session:
        for filters in CASES:
            reader = RawReader(session, site, filters, visit_minutes=30)
            assert reader.split(RANGE) == (list(RANGE.each()), []), filters
            assert_same(session, site, filters)
        # The same filters in another order are the same archive.
        swapped = tuple(reversed(CASES[-1]))
        assert RawReader(session, site, swapped, visit_minutes=30).split(RANGE)[1] == []


def test_a_late_event_forgets_its_day_until_the_next_pass(
    sessions: sessionmaker[Session], site: int, settings: Settings, policy: LoadedPolicy
) -> None:
    google = (VisitFilter("source", "Google"),)
    worker.run_pass(sessions, settings, policy, NOW)
    with sessions.begin() as session:
        archive.note_use(session, site, google, NOW)
    worker.run_pass(sessions, settings, policy, NOW)
    late = dt.datetime.combine(FIRST, dt.time(23, 59), tzinfo=dt.UTC)
    with sessions.begin() as session:
        add_events(session, [event(site, 77, late, "/late", source="Google")])
    report = worker.run_pass(sessions, settings, policy, NOW)
    # The late event reached the final day: its archive was forgotten and archived anew.
    assert ("www.example.com", FIRST) in report.archived
    with sessions() as session:
        assert_same(session, site, google)
        reader = RawReader(session, site, google, visit_minutes=30)
        assert ("/late", 1) in [(v, t.visits) for v, t in reader.breakdown("page", RANGE, None)]


def test_days_are_archived_a_few_per_pass_and_unused_filters_are_forgotten(
    sessions: sessionmaker[Session],
    site: int,
    settings: Settings,
    policy: LoadedPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    google = (VisitFilter("source", "Google"),)
    worker.run_pass(sessions, settings, policy, NOW)
    with sessions.begin() as session:
        archive.note_use(session, site, google, NOW)
    monkeypatch.setattr(archive, "DAYS_PER_PASS", 3)
    assert len(worker.run_pass(sessions, settings, policy, NOW).archived) == 3
    with sessions() as session:
        reader = RawReader(session, site, google, visit_minutes=30)
        # The newest days first; the oldest waits for the next pass, read from raw events.
        assert reader.split(RANGE) == (list(RANGE.each())[1:], [FIRST])
        assert_same(session, site, google)
    later = NOW + archive.KEEP_UNUSED + dt.timedelta(hours=1)
    worker.run_pass(sessions, settings, policy, later)
    with sessions() as session:
        for model in (FilterUse, ArchivedDay, ArchivedRollup):
            assert session.scalar(select(func.count()).select_from(model)) == 0, model


def test_a_filtered_dashboard_request_notes_its_filters(
    app: FastAPI, client: TestClient, tokens: dict[str, str], sessions: sessionmaker[Session]
) -> None:
    site = "www.contactmonkey.com"
    auth = {"Authorization": f"Bearer {tokens['reporting_service']}"}
    for _ in range(2):  # noted once, not at every read
        answer = client.get(
            f"/v1/analytics/sites/{site}/summary",
            params=[("filter", "source:Google"), ("filter", "country!:FR")],
            headers=auth,
        )
        assert answer.status_code == 200, answer.text
    with sessions() as session:
        uses = session.scalars(select(FilterUse.key)).all()
    assert uses == ["country!:FR\nsource:Google"]


def test_a_first_filtered_api_read_archives_the_final_days_it_computes(
    client: TestClient,
    tokens: dict[str, str],
    sessions: sessionmaker[Session],
    site: int,
    settings: Settings,
    policy: LoadedPolicy,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """An API read's session is read-only: the days go to the archive on a connection of their
    own, so a second read (or one after an interrupted first) takes them from there."""
    worker.run_pass(sessions, settings, policy, NOW)
    monkeypatch.setattr(clock, "now", lambda: NOW)
    params = {"from": FIRST.isoformat(), "to": RANGE.end.isoformat(), "filter": "source:Google"}
    auth = {"Authorization": f"Bearer {tokens['reporting_service']}"}
    summary = "/v1/analytics/sites/www.example.com/summary"
    with caplog.at_level(logging.WARNING, logger="avowal.analytics.archive"):
        first = client.get(summary, params=params, headers=auth)
    assert first.status_code == 200, first.text
    assert not [r for r in caplog.records if r.name == "avowal.analytics.archive"]
    with sessions() as session:
        reader = RawReader(session, site, (VisitFilter("source", "Google"),), visit_minutes=30)
        assert reader.split(RANGE) == (list(RANGE.each()), [])
        assert_same(session, site, (VisitFilter("source", "Google"),))
    again = client.get(summary, params=params, headers=auth)
    assert again.json()["totals"] == first.json()["totals"]


def test_a_long_first_read_is_answered_503_and_each_request_prepares_more(
    app: FastAPI,
    client: TestClient,
    tokens: dict[str, str],
    sessions: sessionmaker[Session],
    site: int,
    settings: Settings,
    policy: LoadedPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Past its time budget a filtered request stops, keeps what it computed and says so: the
    figures come once every final day of the range is archived, and equal the raw computation."""
    worker.run_pass(sessions, settings, policy, NOW)
    monkeypatch.setattr(clock, "now", lambda: NOW)
    monkeypatch.setattr(app.state.settings, "analytics_filter_budget_seconds", 1e-9)
    params = {"from": FIRST.isoformat(), "to": RANGE.end.isoformat(), "filter": "device:mobile"}
    auth = {"Authorization": f"Bearer {tokens['reporting_service']}"}
    summary = "/v1/analytics/sites/www.example.com/summary"
    for ready in range(1, DAYS):
        pending = client.get(summary, params=params, headers=auth)
        assert pending.status_code == 503, pending.text
        assert pending.headers["retry-after"] == "30"
        assert pending.json()["error"] == "filters_pending"
        assert "being prepared" in pending.json()["message"]
        with sessions() as session:
            assert session.scalar(select(func.count()).select_from(ArchivedDay)) == ready
    # The Stats API says the same in Plausible's shape.
    stats = client.get(
        "/api/v1/stats/aggregate",
        params={
            "site_id": "www.example.com",
            "period": "custom",
            "date": f"{FIRST},{RANGE.end}",
            "filters": "visit:device==tablet",
        },
        headers=auth,
    )
    assert stats.status_code == 503 and "being prepared" in stats.json()["error"]
    answered = client.get(summary, params=params, headers=auth)
    assert answered.status_code == 200, answered.text
    with sessions() as session:
        raw = RawReader(session, site, (VisitFilter("device", "mobile"),), visit_minutes=30)
        total = sum(t.visitors for t in raw.by_day(RANGE).values())
    assert answered.json()["totals"]["visitors"] == total

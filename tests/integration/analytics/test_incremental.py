"""Incremental rollups and live totals against a recomputation from the raw events.

Events arrive in shuffled chunks (a late event of an old visit, a second page view ending a
bounce, an exit page moving, engagement and revenue), the worker adds each chunk by difference,
and the rollup rows must equal, figure by figure, a recomputation of every day from scratch.
Between chunks, a live reader (rollups plus the events past the mark) must answer exactly what
a computation over all the raw events answers.
"""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import dimensions, incremental, rollup, worker
from avowal.analytics.models import DailyRollup, HourlyRollup, RollupMark
from avowal.analytics.query import DayRange
from avowal.analytics.readers import RawReader, RollupReader
from avowal.db.engine import make_sessionmaker
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import add_events, add_site, event, random_events

FIRST = dt.date(2026, 3, 2)
DAYS = 3
RANGE = DayRange(FIRST, FIRST + dt.timedelta(days=DAYS - 1))
NOW = dt.datetime(2026, 3, 4, 18, tzinfo=dt.UTC)  # the last day is not over: nothing is final
FIGURES = rollup.FIGURES
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


def plausible_events(site_id: int) -> list[dict[str, Any]]:
    """Engagement, revenue and non-interactive events of a few visits (what random_events lacks)."""
    rows: list[dict[str, Any]] = []
    for v in range(6):
        start = dt.datetime.combine(FIRST, dt.time(8 + v), tzinfo=dt.UTC)
        visitor = 9000 + v
        rows.append(event(site_id, visitor, start, "/shop"))
        rows.append(
            event(
                site_id,
                visitor,
                start + dt.timedelta(seconds=20),
                "/shop",
                name="engagement",
                scroll_depth=30 + 10 * v,
                engagement_ms=4000 + v,
            )
        )
        buy = event(
            site_id,
            visitor,
            start + dt.timedelta(seconds=40),
            "/shop",
            name="Purchase",
            revenue_amount=f"{10 + v}.5",
            revenue_currency="EUR",
        )
        buy["interactive"] = v % 2 == 0
        rows.append(buy)
    return rows


def stored(session: Session, site_id: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    daily = {
        (r.day, r.dimension, r.value): tuple(getattr(r, f) for f in FIGURES)
        for r in session.scalars(select(DailyRollup).where(DailyRollup.site_id == site_id))
    }
    hourly = {
        r.hour.replace(tzinfo=dt.UTC) if r.hour.tzinfo is None else r.hour: (
            r.visitors,
            r.visits,
            r.pageviews,
            r.events,
        )
        for r in session.scalars(select(HourlyRollup).where(HourlyRollup.site_id == site_id))
    }
    return daily, hourly


def recomputed(session: Session, site_id: int) -> tuple[dict[Any, Any], dict[Any, Any]]:
    daily: dict[Any, Any] = {}
    hourly: dict[Any, Any] = {}
    for day in RANGE.each():
        figures = rollup.compute_day(session, site_id, day, visit_minutes=30)
        for (dim, value), t in figures.daily.items():
            daily[(day, dim, value)] = tuple(getattr(t, f) for f in FIGURES)
        start = dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC)
        for hour, h in figures.hourly.items():
            at = rollup.hour_start(hour)
            if start <= at < start + dt.timedelta(days=1):
                hourly[at] = (h.visitors, h.visits, h.pageviews, h.events)
    return daily, hourly


def as_tuples(found: Any) -> Any:
    return [(value, tuple(getattr(t, f) for f in FIGURES)) for value, t in found]


def assert_live_matches_raw(session: Session, site_id: int) -> None:
    """A live rollup reader answers what a computation over every raw event answers."""
    live = RollupReader(session, site_id, visit_minutes=30)
    raw = RawReader(session, site_id, (), visit_minutes=30)
    by_day = {d: tuple(getattr(t, f) for f in FIGURES) for d, t in live.by_day(RANGE).items()}
    assert by_day == {
        d: tuple(getattr(t, f) for f in FIGURES) for d, t in raw.by_day(RANGE).items()
    }
    for name in dimensions.NAMES:
        assert as_tuples(live.breakdown(name, RANGE, None)) == as_tuples(
            raw.breakdown(name, RANGE, None)
        ), name
        # With a limit, the values entering or leaving the top N with the new events too.
        assert as_tuples(live.breakdown(name, RANGE, 3)) == as_tuples(
            raw.breakdown(name, RANGE, 3)
        ), name
    hours = {h: vars_of(t) for h, t in live.by_hour(RANGE).items() if t.visitors}
    assert hours == {h: vars_of(t) for h, t in raw.by_hour(RANGE).items()}


def vars_of(t: Any) -> tuple[int, int, int, int]:
    return (t.visitors, t.visits, t.pageviews, t.events)


def test_increments_equal_a_recomputation_and_live_figures_equal_the_raw_events(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    with sessions.begin() as session:
        site_id = add_site(session)
        other = add_site(session, "other.example.com")
    rows = random_events(site_id, FIRST, DAYS, per_day=40) + plausible_events(site_id)
    random.Random(5).shuffle(rows)  # arrival order is not time order: late events of old visits
    chunks = [rows[i : i + 70] for i in range(0, len(rows), 70)]
    assert len(chunks) >= 4
    with sessions.begin() as session:
        add_events(session, chunks[0])
    # The first pass has no mark: it recomputes the days and marks the newest event.
    assert settings.analytics_visit_minutes == 30
    worker.roll_pending(sessions, settings, NOW, worker.PassReport())
    monkeypatch.setattr(incremental, "STEP", 25)  # several steps per pass
    for chunk in chunks[1:]:
        with sessions.begin() as session:
            add_events(session, chunk)
            add_events(session, random_events(other, FIRST, 1, seed=len(chunk), per_day=2))
        with sessions() as session:
            assert_live_matches_raw(session, site_id)
        report = worker.PassReport()
        worker.roll_pending(sessions, settings, NOW, report)
        assert not report.failed
        with sessions() as session:
            assert stored(session, site_id) == recomputed(session, site_id)
            assert_live_matches_raw(session, site_id)
    with sessions() as session:
        daily, _ = stored(session, site_id)
        # The data exercised engagement, revenue, bounces that ended, and every kind of value.
        assert any(dim == rollup.REVENUE for _, dim, _ in daily)
        assert any(t[FIGURES.index("scrolls")] for (_, dim, _), t in daily.items() if dim == "page")
        mark = session.get(RollupMark, site_id)
        assert mark is not None and mark.through_id > 0


def test_a_dashboard_counts_an_event_acknowledged_a_moment_ago(
    sessions: sessionmaker[Session],
) -> None:
    with sessions.begin() as session:
        site_id = add_site(session)
        incremental.set_mark(session, site_id, 0, NOW)
        first = dt.datetime.combine(FIRST, dt.time(9), tzinfo=dt.UTC)
        add_events(session, [event(site_id, 1, first, "/", source="Google")])
    with sessions() as session:
        live = RollupReader(session, site_id, visit_minutes=30)
        total = live.by_day(RANGE)[FIRST]
        assert (total.visitors, total.pageviews, total.bounces) == (1, 1, 1)
        # Without visit_minutes a reader reads the rollups only: nothing is rolled up yet.
        assert RollupReader(session, site_id).by_day(RANGE) == {}
    # A second page view of the same visit: the bounce is gone in the live figures at once.
    with sessions.begin() as session:
        add_events(session, [event(site_id, 1, first + dt.timedelta(seconds=30), "/pricing")])
    with sessions() as session:
        live = RollupReader(session, site_id, visit_minutes=30)
        total = live.by_day(RANGE)[FIRST]
        assert (total.visitors, total.pageviews, total.bounces) == (1, 2, 0)
        assert [v for v, _ in live.breakdown("exit_page", RANGE, None)] == ["/pricing"]


def test_a_value_can_leave_the_top_of_a_live_breakdown(sessions: sessionmaker[Session]) -> None:
    """The new events move a visit's exit page away from the leader: the runner-up, which no
    new event touched, must come up although the rollups alone rank it second."""
    nine = dt.datetime.combine(FIRST, dt.time(9), tzinfo=dt.UTC)
    later = nine + dt.timedelta(seconds=30)
    with sessions.begin() as session:
        site_id = add_site(session)
        add_events(
            session,
            [
                event(site_id, 1, nine, "/a"),
                event(site_id, 2, nine, "/a"),
                event(site_id, 3, nine, "/x"),
                event(site_id, 3, later, "/b"),
            ],
        )
        rollup.roll_day(session, site_id, FIRST, now=NOW, visit_minutes=30)
        incremental.set_mark(session, site_id, 4, NOW)
        add_events(session, [event(site_id, 1, later, "/c")])
    with sessions() as session:
        live = RollupReader(session, site_id, visit_minutes=30)
        assert [v for v, _ in live.breakdown("exit_page", RANGE, 1)] == ["/b"]
        raw = RawReader(session, site_id, (), visit_minutes=30)
        assert as_tuples(live.breakdown("exit_page", RANGE, 1)) == as_tuples(
            raw.breakdown("exit_page", RANGE, 1)
        )


def test_the_summary_api_counts_an_event_the_moment_it_is_acknowledged(
    app: FastAPI, client: TestClient, tokens: dict[str, str], settings: Settings
) -> None:
    """Over HTTP, as a site and a dashboard see it: a 202, then the next summary includes it,
    with no worker pass in between (the first pass only marks where the rollups stand)."""
    site = "www.contactmonkey.com"
    worker.run_pass(app.state.sessionmaker, settings, app.state.policies.current())
    auth = {"Authorization": f"Bearer {tokens['reporting_service']}"}

    def pageviews() -> int:
        answer = client.get(f"/v1/analytics/sites/{site}/summary", headers=auth)
        assert answer.status_code == 200, answer.text
        return int(answer.json()["totals"]["pageviews"])

    for i in range(3):
        before = pageviews()
        sent = client.post(
            "/api/event",
            content=f'{{"n":"pageview","u":"https://{site}/p{i}","d":"{site}"}}'.encode(),
            headers={"Content-Type": "text/plain", "User-Agent": UA},
        )
        assert sent.status_code == 202, sent.text
        assert pageviews() == before + 1


def test_a_mark_never_passes_an_event_still_being_committed(
    sessions: sessionmaker[Session], settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two ingest transactions commit out of id order (several PostgreSQL processes): the pass
    between the two commits moves no mark, so the earlier ids are counted once committed."""
    with sessions.begin() as session:
        site_id = add_site(session)
        incremental.set_mark(session, site_id, 0, NOW)
    at = dt.datetime.combine(FIRST, dt.time(9), tzinfo=dt.UTC)
    postgres = sessions.kw["bind"].dialect.name == "postgresql"
    in_flight = sessions()
    in_flight.begin()
    incremental.ingest_lock(in_flight)  # as store.write_events takes it
    add_events(in_flight, [event(site_id, 1, at, "/first-id")])
    if postgres:
        with sessions.begin() as session:  # a larger id, committed first
            incremental.ingest_lock(session)
            add_events(session, [event(site_id, 2, at, "/second-id")])
        monkeypatch.setattr(incremental, "SETTLE_TIMEOUT", "300ms")
        with sessions() as session, pytest.raises(incremental.IngestBusy):
            incremental.committed_through(session)
        worker.roll_pending(sessions, settings, NOW, worker.PassReport())
        with sessions() as session:
            assert incremental.mark_of(session, site_id) == 0  # not past the first id
    else:
        # SQLite: the one writer in flight holds ids above every committed one; the bound is
        # read without waiting for it.
        with sessions() as session:
            assert incremental.committed_through(session) == 0
    in_flight.commit()
    in_flight.close()
    report = worker.PassReport()
    worker.roll_pending(sessions, settings, NOW, report)
    assert not report.failed
    with sessions() as session:
        bound = incremental.committed_through(session)
    with sessions() as session:
        assert stored(session, site_id) == recomputed(session, site_id)
        pages = {v for (_, dim, v) in stored(session, site_id)[0] if dim == "page"}
        assert pages == ({"/first-id", "/second-id"} if postgres else {"/first-id"})
        assert incremental.mark_of(session, site_id) == bound > 0

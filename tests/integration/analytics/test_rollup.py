"""Rollups against a plain count over the raw events; the worker's passes and the raw purge."""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from avowal.analytics import rollup, worker
from avowal.analytics.models import DailyRollup, Event, HourlyRollup, RollupState
from avowal.cli import app as cli_app
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import add_events, add_site, event, random_events

FIRST = dt.date(2026, 3, 2)
DAYS = 4
GAP = dt.timedelta(minutes=30)
SECOND = dt.timedelta(seconds=1)
FIELDS = ("visitors", "visits", "pageviews", "bounces", "duration_s", "events")
ATTRS = {
    "source": "source",
    "referrer": "referrer_domain",
    "utm_source": "utm_source",
    "utm_medium": "utm_medium",
    "utm_campaign": "utm_campaign",
    "utm_term": "utm_term",
    "utm_content": "utm_content",
    "browser": "browser",
    "os": "os",
    "device": "device",
    "country": "country",
}


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def policy(settings: Settings) -> LoadedPolicy:
    return load_file(settings.policy_file)


@pytest.fixture
def data(sessions: sessionmaker[Session]) -> Iterator[tuple[int, list[dict[str, Any]]]]:
    with sessions.begin() as session:
        site_id = add_site(session)
        other = add_site(session, "other.example.com")
        rows = random_events(site_id, FIRST, DAYS)
        add_events(session, rows)
        # Another site's events must not leak into this site's rollups.
        add_events(session, random_events(other, FIRST, 1, seed=99, per_day=5))
    yield site_id, rows


def visits_of(rows: list[dict[str, Any]]) -> list[list[dict[str, Any]]]:
    """Split events into visits the plain way: per day and visitor, a gap over 30 minutes."""
    grouped: dict[tuple[dt.date, int], list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        grouped[(row["day"], row["visitor"])].append(row)
    visits: list[list[dict[str, Any]]] = []
    for evs in grouped.values():
        evs.sort(key=lambda e: e["ts"])
        for e in evs:
            if (
                not visits
                or visits[-1][0]["visitor"] != e["visitor"]
                or (visits[-1][0]["day"] != e["day"] or e["ts"] - visits[-1][-1]["ts"] > GAP)
            ):
                visits.append([])
            visits[-1].append(e)
    return visits


def expected_daily(
    rows: list[dict[str, Any]], keep: Any = None
) -> dict[tuple[dt.date, str, str], dict[str, int]]:
    """Count every rollup figure straight from the events (``keep`` selects visits)."""
    sets: dict[tuple[dt.date, str, str], set[int]] = defaultdict(set)
    sums: dict[tuple[dt.date, str, str], dict[str, int]] = defaultdict(
        lambda: dict.fromkeys(FIELDS, 0)
    )
    for visit in visits_of(rows):
        if keep is not None and not keep(visit):
            continue
        first = visit[0]
        day, who = first["day"], first["visitor"]
        views = [e for e in visit if e["name"] == "pageview"]
        customs = [e for e in visit if e["name"] != "pageview"]
        bounce = int(len(views) == 1 and not customs)
        duration = (visit[-1]["ts"] - first["ts"]) // SECOND
        keys = [("total", ""), ("source", first["source"] or "Direct / None")]
        keys += [(dim, first[col]) for dim, col in ATTRS.items() if dim != "source" and first[col]]
        if views:
            keys += [("entry_page", views[0]["path"]), ("exit_page", views[-1]["path"])]
        for dim, value in keys:
            s = sums[(day, dim, value)]
            s["visits"] += 1
            s["pageviews"] += len(views)
            s["bounces"] += bounce
            s["duration_s"] += duration
            s["events"] += len(customs)
            sets[(day, dim, value)].add(who)
        for i, view in enumerate(views):
            key = (day, "page", view["path"])
            sums[key]["pageviews"] += 1
            if i + 1 < len(views):
                sums[key]["duration_s"] += (views[i + 1]["ts"] - view["ts"]) // SECOND
            sets[key].add(who)
        for path in {v["path"] for v in views}:
            sums[(day, "page", path)]["visits"] += 1
            sums[(day, "page", path)]["bounces"] += bounce
        fired: set[tuple[str, str]] = set()
        for e in customs:
            names = [("event", e["name"])]
            names += [("prop", f"{k}={v}") for k, v in (e["props"] or {}).items()]
            for dim, value in names:
                sums[(day, dim, value)]["events"] += 1
                sets[(day, dim, value)].add(who)
            fired.update(names)
        for dim, value in fired:
            sums[(day, dim, value)]["visits"] += 1
    for key, who_set in sets.items():
        sums[key]["visitors"] = len(who_set)
    return dict(sums)


def expected_hourly(rows: list[dict[str, Any]]) -> dict[dt.datetime, dict[str, int]]:
    """Count the hourly figures straight from the events."""
    sets: dict[dt.datetime, set[int]] = defaultdict(set)
    sums: dict[dt.datetime, dict[str, int]] = defaultdict(
        lambda: {"visits": 0, "pageviews": 0, "events": 0}
    )

    def hour(ts: dt.datetime) -> dt.datetime:
        return ts.replace(minute=0, second=0, microsecond=0)

    for row in rows:
        sets[hour(row["ts"])].add(row["visitor"])
        sums[hour(row["ts"])]["pageviews" if row["name"] == "pageview" else "events"] += 1
    for visit in visits_of(rows):
        sums[hour(visit[0]["ts"])]["visits"] += 1
    return {h: {"visitors": len(sets[h]), **sums[h]} for h in sets}


def stored_daily(session: Session, site_id: int) -> dict[tuple[dt.date, str, str], dict[str, int]]:
    rows = session.scalars(select(DailyRollup).where(DailyRollup.site_id == site_id))
    return {(r.day, r.dimension, r.value): {f: getattr(r, f) for f in FIELDS} for r in rows}


def stored_hourly(session: Session, site_id: int) -> dict[dt.datetime, dict[str, int]]:
    rows = session.scalars(select(HourlyRollup).where(HourlyRollup.site_id == site_id))
    return {
        (r.hour if r.hour.tzinfo else r.hour.replace(tzinfo=dt.UTC)).astimezone(dt.UTC): {
            "visitors": r.visitors,
            "visits": r.visits,
            "pageviews": r.pageviews,
            "events": r.events,
        }
        for r in rows
    }


def roll_all(sessions: sessionmaker[Session], site_id: int, now: dt.datetime) -> None:
    for i in range(DAYS):
        with sessions.begin() as session:
            rollup.roll_day(
                session, site_id, FIRST + dt.timedelta(days=i), now=now, visit_minutes=30
            )


LATER = dt.datetime(2026, 4, 1, tzinfo=dt.UTC)


def test_every_rollup_figure_matches_a_count_of_the_raw_events(
    sessions: sessionmaker[Session], data: tuple[int, list[dict[str, Any]]]
) -> None:
    site_id, rows = data
    roll_all(sessions, site_id, LATER)
    expected = expected_daily(rows)
    with sessions() as session:
        stored = stored_daily(session, site_id)
        hourly = stored_hourly(session, site_id)
    # The data set exercises every dimension, and some visits split at the 30-minute rule.
    # (Revenue goals and engagement are counted by test_plausible_events.)
    unused = {"utm_term", "utm_content", "revenue"}
    assert {dim for _, dim, _ in expected} == set(rollup.DIMENSIONS) - unused
    assert len(visits_of(rows)) > len({(r["day"], r["visitor"]) for r in rows})
    assert stored == expected
    assert hourly == expected_hourly(rows)
    # Visitors are daily: a range's uniques are the sum of the days' uniques.
    for i in range(DAYS):
        day = FIRST + dt.timedelta(days=i)
        assert stored[(day, "total", "")]["visitors"] == len(
            {r["visitor"] for r in rows if r["day"] == day}
        )


def test_rollup_is_a_recomputation_and_replaces_the_day(
    sessions: sessionmaker[Session], data: tuple[int, list[dict[str, Any]]]
) -> None:
    site_id, rows = data
    roll_all(sessions, site_id, LATER)
    roll_all(sessions, site_id, LATER)  # twice: same rows, no duplicates
    late = [
        event(site_id, 12345, dt.datetime(2026, 3, 2, 23, 59, 59, tzinfo=dt.UTC), "/late"),
        event(site_id, 12345, dt.datetime(2026, 3, 3, 0, 0, 30, tzinfo=dt.UTC), "/late"),
    ]
    with sessions.begin() as session:
        add_events(session, late)
    roll_all(sessions, site_id, LATER)
    with sessions() as session:
        stored = stored_daily(session, site_id)
        assert stored == expected_daily(rows + late)
        # Across midnight the visit ends: each day counts its own visit of /late.
        assert stored[(FIRST, "page", "/late")]["visits"] == 1
        assert stored[(FIRST + dt.timedelta(days=1), "page", "/late")]["visits"] == 1


def test_filtered_computation_keeps_only_the_selected_visits(
    sessions: sessionmaker[Session], data: tuple[int, list[dict[str, Any]]]
) -> None:
    site_id, rows = data
    cases = [
        (rollup.VisitFilter("source", "Google"), lambda v: v[0]["source"] == "Google"),
        (rollup.VisitFilter("source", "Direct / None"), lambda v: v[0]["source"] is None),
        (
            rollup.VisitFilter("page", "/pricing"),
            lambda v: any(e["name"] == "pageview" and e["path"] == "/pricing" for e in v),
        ),
    ]
    with sessions() as session:
        for f, keep in cases:
            expected = expected_daily(rows, keep)
            for i in range(DAYS):
                day = FIRST + dt.timedelta(days=i)
                figures = rollup.compute_day(session, site_id, day, visit_minutes=30, filters=(f,))
                got = {
                    (day, dim, value): {name: getattr(t, name) for name in FIELDS}
                    for (dim, value), t in figures.daily.items()
                }
                assert got == {k: v for k, v in expected.items() if k[0] == day}, f
                assert got  # every filter selects something each day


def test_a_day_is_final_an_hour_after_it_ends(sessions: sessionmaker[Session]) -> None:
    with sessions.begin() as session:
        site_id = add_site(session)
        day = dt.date(2026, 3, 2)
        end = dt.datetime(2026, 3, 3, tzinfo=dt.UTC)
        rollup.roll_day(session, site_id, day, now=end + dt.timedelta(minutes=59), visit_minutes=30)
        assert session.get(RollupState, (site_id, day)).final is False  # type: ignore[union-attr]
        rollup.roll_day(session, site_id, day, now=end + dt.timedelta(hours=1), visit_minutes=30)
        assert session.get(RollupState, (site_id, day)).final is True  # type: ignore[union-attr]


def test_worker_rolls_pending_days_then_purges_raw_events_and_keeps_rollups(
    sessions: sessionmaker[Session],
    data: tuple[int, list[dict[str, Any]]],
    settings: Settings,
    policy: LoadedPolicy,
) -> None:
    site_id, rows = data
    retention = policy.policy.analytics.raw_retention_days
    # Midday on the last day: the first days are final, the last is redone at every pass.
    now = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS - 1), dt.time(12), tzinfo=dt.UTC)
    report = worker.run_pass(sessions, settings, policy, now)
    rolled = [day for domain, day in report.rolled if domain == "www.example.com"]
    assert rolled == [FIRST + dt.timedelta(days=i) for i in range(DAYS)]
    assert report.purged_events == 0
    again = worker.run_pass(sessions, settings, policy, now)
    # Rollups are incremental: no event arrived since, so no day changes.
    assert again.rolled == []
    with sessions() as session:
        before = stored_daily(session, site_id)
    assert before == {
        k: v for k, v in expected_daily(rows).items() if k[0] < FIRST + dt.timedelta(days=DAYS)
    }

    # Past the retention of the first two days (the last two were not final yet: redone first).
    later = dt.datetime.combine(
        FIRST + dt.timedelta(days=retention + 2), dt.time(12), tzinfo=dt.UTC
    )
    report = worker.run_pass(sessions, settings, policy, later)
    purged = {(day, n) for domain, day, n in report.purged if domain == "www.example.com"}
    assert purged == {
        (day, sum(1 for r in rows if r["day"] == day))
        for day in (FIRST, FIRST + dt.timedelta(days=1))
    }
    with sessions() as session:
        left = session.scalar(select(func.min(Event.day)).where(Event.site_id == site_id))
        assert left == FIRST + dt.timedelta(days=2)
        assert stored_daily(session, site_id) == expected_daily(rows)
        assert stored_hourly(session, site_id) == expected_hourly(rows)
    # Nothing left to do: the old days are final, and no event reached today since its rollup.
    final = worker.run_pass(sessions, settings, policy, later)
    assert final.rolled == []
    assert final.purged_events == 0


def test_worker_loop_runs_passes_until_cancelled(
    sessions: sessionmaker[Session],
    data: tuple[int, list[dict[str, Any]]],
    settings: Settings,
    policy: LoadedPolicy,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    later = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS + 1), dt.time(9), tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: later)
    reports: list[worker.PassReport] = []

    async def main() -> None:
        task = asyncio.create_task(
            worker.run_forever(sessions, settings, policy, first_delay=0, on_pass=reports.append)
        )
        for _ in range(600):
            await asyncio.sleep(0.05)
            if reports:
                break
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task

    asyncio.run(main())
    assert reports, "no pass ran"
    # A day after the data: every day of it is rolled up, and final.
    with sessions() as session:
        finals = session.scalars(
            select(RollupState.day).where(
                RollupState.site_id == data[0], RollupState.final.is_(True)
            )
        )
        assert {FIRST + dt.timedelta(days=i) for i in range(DAYS)} <= set(finals)


def test_cli_rollup(
    sessions: sessionmaker[Session],
    data: tuple[int, list[dict[str, Any]]],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    site_id, rows = data
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))
    # "Now" is the day after the data: nothing is past the raw-event retention yet.
    now = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS), dt.time(9), tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: now)
    runner = CliRunner()
    done = runner.invoke(cli_app, ["analytics", "rollup"])
    assert done.exit_code == 0, done.output
    assert f"rolled up www.example.com {FIRST}" in done.output
    with sessions() as session:
        assert stored_daily(session, site_id) == expected_daily(rows)
    # Recomputing named days (even final ones) from the raw events kept.
    again = runner.invoke(
        cli_app, ["analytics", "rollup", "--site", "www.example.com", "--from", str(FIRST)]
    )
    assert again.exit_code == 0, again.output
    assert again.output.count("rolled up www.example.com") == DAYS + 1
    old = runner.invoke(
        cli_app, ["analytics", "rollup", "--site", "www.example.com", "--from", "2026-01-01"]
    )
    assert old.exit_code == 1 and "purged" in old.output
    unknown = runner.invoke(cli_app, ["analytics", "rollup", "--site", "nope.example.com"])
    assert unknown.exit_code == 1 and "no analytics site" in unknown.output


def test_worker_adds_only_new_events_and_recomputes_a_day_once_when_it_is_over(
    sessions: sessionmaker[Session], settings: Settings, policy: LoadedPolicy
) -> None:
    day = dt.date(2026, 3, 2)
    with sessions.begin() as session:
        site_id = add_site(session)
        add_events(session, [event(site_id, 1, dt.datetime(2026, 3, 2, 23, 58, tzinfo=dt.UTC))])

    def at(clock: str) -> dt.datetime:
        h, m = (int(x) for x in clock.split(":"))
        return dt.datetime(2026, 3, 3, h, m, tzinfo=dt.UTC)

    def total(on: dt.date) -> dict[str, int]:
        with sessions() as session:
            return stored_daily(session, site_id)[(on, "total", "")]

    # The first pass recomputes every pending day and marks how far the events are counted.
    assert worker.run_pass(sessions, settings, policy, at("00:02")).rolled == [
        ("www.example.com", day),
        ("www.example.com", day + dt.timedelta(days=1)),
    ]
    assert worker.run_pass(sessions, settings, policy, at("00:03")).rolled == []
    # A late event of the same visitor: only that day changes, by the difference (no bounce).
    with sessions.begin() as session:
        add_events(
            session, [event(site_id, 1, dt.datetime(2026, 3, 2, 23, 59, tzinfo=dt.UTC), "/b")]
        )
    assert total(day)["bounces"] == 1
    assert worker.run_pass(sessions, settings, policy, at("00:40")).rolled == [
        ("www.example.com", day)
    ]
    assert total(day) | {"duration_s": 0} == {
        "visitors": 1, "visits": 1, "pageviews": 2, "bounces": 0, "duration_s": 0, "events": 0
    }  # fmt: skip
    with sessions() as session:
        assert (day, "exit_page", "/") not in stored_daily(session, site_id)
        assert stored_daily(session, site_id)[(day, "exit_page", "/b")]["visits"] == 1
        state = session.get(RollupState, (site_id, day))
        assert state is not None and not state.final
    # An hour after its end the day is recomputed whole, once, and final.
    assert ("www.example.com", day) in worker.run_pass(
        sessions, settings, policy, at("01:00")
    ).rolled
    with sessions() as session:
        state = session.get(RollupState, (site_id, day))
        assert state is not None and state.final
    assert ("www.example.com", day) not in worker.run_pass(
        sessions, settings, policy, at("01:30")
    ).rolled

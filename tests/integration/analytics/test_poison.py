"""One bad record never stalls anything (issue 8, hole 1), on SQLite and PostgreSQL.

At the edge, text that cannot be stored (a lone surrogate sent as a JSON escape, a noncharacter,
NUL) is cleaned out of every field of an event, props sent as a JSON string included, and deep
nesting is refused with a 400. Behind it, one event that cannot be written does not fail the
others committed with it, and one event already stored that cannot be rolled up (written
there by something other than the ingest) is set aside: rollups and purges go on.
"""

from __future__ import annotations

import asyncio
import dataclasses
import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select, text
from sqlalchemy.orm import Session, sessionmaker
from typer.testing import CliRunner

from avowal.analytics import ingest, quarantine, worker
from avowal.analytics.exceptions import IngestUnavailable
from avowal.analytics.models import DailyRollup, Event, QuarantinedEvent
from avowal.analytics.service import Analytics
from avowal.cli import app as cli_app
from avowal.db.engine import make_sessionmaker
from avowal.lib import clock
from avowal.lib import text as storable
from avowal.policy.loader import LoadedPolicy, load_file
from avowal.review import render
from avowal.review import service as review
from avowal.settings import Settings
from tests.integration.analytics.dashboard_data import add_events, add_site, event

SITE = "www.contactmonkey.com"  # declared in the example policy
FIREFOX = "Mozilla/5.0 (X11; Ubuntu; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0"
NOON = dt.datetime(2026, 3, 2, 12, 0, tzinfo=dt.UTC)
CANARY = "canary-555-0199"


@pytest.fixture
def sessions(engine: Engine) -> sessionmaker[Session]:
    return make_sessionmaker(engine)


@pytest.fixture
def policy(settings: Settings) -> LoadedPolicy:
    return load_file(settings.policy_file)


@pytest.fixture
def noon(app: FastAPI) -> Iterator[None]:
    app.state.analytics.clock = lambda: NOON
    yield


def post(client: TestClient, body: bytes) -> Any:
    return client.post(
        "/api/event",
        content=body,
        headers={"Content-Type": "text/plain", "User-Agent": FIREFOX},
    )


def stored(engine: Engine) -> list[Any]:
    with engine.connect() as conn:
        return list(conn.execute(select(Event).order_by(Event.id)).mappings())


def strings_of(row: Any) -> list[str]:
    values = [v for v in row.values() if isinstance(v, str)]
    for key, value in (row["props"] or {}).items():
        values += [key, value]
    return values


# --- at the edge ------------------------------------------------------------------------------

BASE = f'"n": "pageview", "u": "https://{SITE}/", "d": "{SITE}"'
# Raw JSON text: the escapes reach the server as the six characters \ud800, as browsers'
# JSON.stringify writes a lone surrogate.
EDGE_CASES: dict[str, tuple[bytes, dict[str, Any]]] = {
    "lone surrogate in props sent as a JSON string": (
        b'{%s, "p": "{\\"plan\\": \\"pro\\\\ud800\\"}"}' % BASE.encode(),
        {"props": {"plan": "pro\ufffd"}},
    ),
    "lone surrogate in a props key sent as a JSON string": (
        b'{%s, "p": "{\\"pl\\\\udfffan\\": \\"pro\\"}"}' % BASE.encode(),
        {"props": {"pl\ufffdan": "pro"}},
    ),
    "lone surrogate in the event name": (
        b'{"n": "Sign\\ud800up", "u": "https://%s/", "d": "%s"}' % (SITE.encode(), SITE.encode()),
        {"name": "Sign\ufffdup"},
    ),
    "lone surrogate in the url": (
        b'{"n": "pageview", "u": "https://%s/pricing\\udbff", "d": "%s"}'
        % (SITE.encode(), SITE.encode()),
        {"path": "/pricing\ufffd"},
    ),
    "noncharacter and NUL in the name": (
        json.dumps({"n": "Sign\ufffeup\u0000", "u": f"https://{SITE}/", "d": SITE}).encode(),
        {"name": "Sign\ufffdup"},
    ),
    "percent-encoded noncharacter and NUL in the path": (
        json.dumps({"n": "pageview", "u": f"https://{SITE}/a%EF%BF%BEb%00c", "d": SITE}).encode(),
        {"path": "/a\ufffdbc"},
    ),
    "noncharacters in a props object": (
        json.dumps(
            {"n": "Signup", "u": f"https://{SITE}/", "d": SITE, "p": {"k\U0010ffff": "v\ufdd0"}}
        ).encode(),
        {"props": {"k\ufffd": "v\ufffd"}},
    ),
    "lone surrogate in a kept utm parameter": (
        json.dumps(
            {"n": "pageview", "u": f"https://{SITE}/?utm_source=news%ED%A0%80", "d": SITE}
        ).encode(),
        {"utm_source": "news\ufffd\ufffd\ufffd"},
    ),
    "lone surrogate in the referrer": (
        b'{%s, "r": "https://news.example.com\\ud800/x"}' % BASE.encode(),
        {"referrer_domain": None},
    ),
}


@pytest.mark.parametrize("case", list(EDGE_CASES))
def test_unstorable_text_is_cleaned_at_the_edge(
    client: TestClient, engine: Engine, noon: None, case: str
) -> None:
    body, expected = EDGE_CASES[case]
    response = post(client, body)
    assert response.status_code == 202, response.text
    (row,) = stored(engine)
    for column, value in expected.items():
        assert row[column] == value
    assert all(storable.problem(s) is None for s in strings_of(row))


def test_an_unknown_domain_with_unstorable_text_gets_a_clean_refusal(
    client: TestClient, engine: Engine
) -> None:
    body = b'{"n": "pageview", "u": "https://%s/", "d": "evil\\ud800.example.com"}' % (
        SITE.encode()
    )
    response = post(client, body)
    assert response.status_code == 404, response.text
    assert response.json()["error"] == "unknown_site"
    assert response.json()["domain"] == "evil\ufffd.example.com"
    assert stored(engine) == []


@pytest.mark.parametrize(
    "body",
    [
        # props as a JSON string nested far deeper than anything avowal accepts
        json.dumps({"n": "x", "u": f"https://{SITE}/", "d": SITE, "p": "[" * 3000}).encode(),
        json.dumps(
            {"n": "x", "u": f"https://{SITE}/", "d": SITE, "p": '{"a":' * 500 + "1" + "}" * 500}
        ).encode(),
        # the body itself
        b'{"n": "x", "u": "https://%s/", "d": "%s", "p": {"a": %s%s}}'
        % (SITE.encode(), SITE.encode(), b"[" * 1000, b"]" * 1000),
        b"[" * 4000 + b"]" * 4000,
    ],
    ids=["props-string-arrays", "props-string-objects", "body-props", "body"],
)
def test_deeply_nested_events_are_refused_with_a_400(
    client: TestClient, engine: Engine, body: bytes
) -> None:
    response = post(client, body)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "too_deeply_nested"
    assert stored(engine) == []


# --- group commit -----------------------------------------------------------------------------


def test_one_poisoned_event_does_not_fail_the_others_of_its_batch(
    settings: Settings, engine: Engine, sessions: sessionmaker[Session], policy: LoadedPolicy
) -> None:
    analytics = Analytics(settings, policy.policy, engine, sessions)
    analytics.clock = lambda: NOON

    async def main() -> list[BaseException | None]:
        await analytics.start()
        try:
            (site,) = await analytics.registry.find([SITE])
            events = []
            for i in range(40):
                payload = ingest.parse_payload(
                    json.dumps(
                        {"n": "pageview", "u": f"https://{SITE}/p{i}", "d": SITE, "p": {"i": i}}
                    ).encode()
                )
                (pending,) = ingest.build(
                    payload, [site], ip="192.0.2.1", user_agent=FIREFOX, now=NOON
                )
                pending.browser = "Firefox"
                events.append(pending)
            # Past the edge, as a bug or a future input path might let one through.
            events[17] = dataclasses.replace(events[17], name="poison\ud800")
            started = asyncio.Event()

            async def submit(pending: ingest.PendingEvent) -> BaseException | None:
                await started.wait()
                try:
                    await analytics.batcher.submit([pending])
                except IngestUnavailable as exc:
                    return exc
                return None

            tasks = [asyncio.create_task(submit(e)) for e in events]
            await asyncio.sleep(0)
            started.set()
            return await asyncio.gather(*tasks)
        finally:
            await analytics.stop()

    answers = asyncio.run(main())
    assert [i for i, a in enumerate(answers) if a is not None] == [17]
    paths = sorted(row["path"] for row in stored(engine))
    assert paths == sorted(f"/p{i}" for i in range(40) if i != 17)


# --- the rollup and purge worker --------------------------------------------------------------

DAY = dt.date(2026, 3, 2)


def poison(session: Session, site_id: int, *, invalid_utf8: bool) -> None:
    """Store events the ingest would never write, straight into the table."""
    ts = dt.datetime.combine(DAY, dt.time(10), tzinfo=dt.UTC)
    # A props JSON text whose escape decodes to a lone surrogate: readable, never storable.
    session.execute(
        text(
            "INSERT INTO analytics_events (site_id, ts, day, name, path, visitor, props) "
            "VALUES (:site, :ts, :day, 'Signup', '/', 42, :props)"
        ),
        {"site": site_id, "ts": ts, "day": DAY, "props": f'{{"{CANARY}": "\\ud800"}}'},
    )
    if invalid_utf8:
        # SQLite stores any bytes as TEXT; reading them back fails.
        session.execute(
            text(
                "INSERT INTO analytics_events (site_id, ts, day, name, path, visitor) "
                "VALUES (:site, :ts, :day, CAST(X'5369676EEDA080' AS TEXT), '/', 43)"
            ),
            {"site": site_id, "ts": ts, "day": DAY},
        )


def test_a_poisoned_stored_event_never_stops_rollups_or_purges(
    engine: Engine, sessions: sessionmaker[Session], settings: Settings, policy: LoadedPolicy
) -> None:
    sqlite = engine.dialect.name == "sqlite"
    with sessions.begin() as session:
        site_id = add_site(session)
        other = add_site(session, "other.example.com")
        good = [
            event(site_id, v, dt.datetime.combine(d, dt.time(9, v), tzinfo=dt.UTC), f"/p{v}")
            for d in (DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1))
            for v in range(3)
        ]
        good.append(event(other, 7, dt.datetime.combine(DAY, dt.time(11), tzinfo=dt.UTC)))
        add_events(session, good)
        poison(session, site_id, invalid_utf8=sqlite)

    now = dt.datetime.combine(DAY + dt.timedelta(days=3), dt.time(12), tzinfo=dt.UTC)
    report = worker.run_pass(sessions, settings, policy, now)

    poisoned = 2 if sqlite else 1
    assert ("www.example.com", DAY, poisoned) in report.quarantined
    assert not report.failed
    rolled = set(report.rolled)
    for day in (DAY - dt.timedelta(days=1), DAY, DAY + dt.timedelta(days=1)):
        assert ("www.example.com", day) in rolled
    assert ("other.example.com", DAY) in rolled
    with sessions() as session:
        pageviews = session.scalar(
            select(DailyRollup.pageviews).where(
                DailyRollup.site_id == site_id,
                DailyRollup.day == DAY,
                DailyRollup.dimension == "total",
            )
        )
        assert pageviews == 3  # the good page views of the day; the poisoned events set aside
        assert session.scalar(select(func.count()).select_from(QuarantinedEvent)) == poisoned
        left = session.scalar(
            select(func.count())
            .select_from(Event)
            .where(Event.day == DAY, Event.site_id == site_id)
        )
        assert left == 3

    # Past the raw-event retention, the poisoned day's raw events are purged like any other,
    # and so are the records set aside.
    later = now + dt.timedelta(days=policy.policy.analytics.raw_retention_days + 2)
    report = worker.run_pass(sessions, settings, policy, later)
    assert ("www.example.com", DAY, 3) in report.purged
    with sessions() as session:
        assert session.scalar(select(func.count()).select_from(Event)) == 0
        assert session.scalar(select(func.count()).select_from(QuarantinedEvent)) == 0


def test_the_review_counts_quarantined_events_without_their_values(
    engine: Engine, sessions: sessionmaker[Session], settings: Settings, policy: LoadedPolicy
) -> None:
    with sessions.begin() as session:
        site_id = add_site(session)
        add_events(
            session, [event(site_id, 1, dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC))]
        )
        poison(session, site_id, invalid_utf8=engine.dialect.name == "sqlite")
    now = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    worker.run_pass(sessions, settings, policy, now)

    with sessions() as session:
        built = review.build(session, policy, settings, public_key=None, now=now)
        summary = quarantine.summary(session)
    section = built.analytics_quarantine
    assert section.total == summary.total >= 1
    assert section.by_site == {"www.example.com": section.total}
    for example in section.examples:
        assert (example.site, example.day, example.stage) == ("www.example.com", DAY, "rollup")
    # SQLite also holds a name that is not UTF-8 (its column could not even be read).
    expected = {"props", "name"} if engine.dialect.name == "sqlite" else {"props"}
    assert {e.field for e in section.examples} == expected
    assert any("quarantine" in note for note in built.notes)
    dumped = built.model_dump_json()
    assert CANARY not in dumped and "ud800" not in dumped.lower()
    page = render.render_html(built)
    assert "Analytics events set aside" in page and "www.example.com (" in page
    assert CANARY not in page


def test_the_longest_property_an_event_may_have_rolls_up(
    engine: Engine, sessions: sessionmaker[Session], settings: Settings, policy: LoadedPolicy
) -> None:
    key, value = "k" * ingest.MAX_PROP_KEY, "v" * ingest.MAX_PROP_VALUE
    with sessions.begin() as session:
        site_id = add_site(session)
        ts = dt.datetime.combine(DAY, dt.time(9), tzinfo=dt.UTC)
        add_events(session, [event(site_id, 1, ts, name="Signup", props={key: value})])
    now = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(12), tzinfo=dt.UTC)
    report = worker.run_pass(sessions, settings, policy, now)
    assert ("www.example.com", DAY) in report.rolled and not report.failed
    with sessions() as session:
        label = session.scalar(select(DailyRollup.value).where(DailyRollup.dimension == "prop"))
    assert label == f"{key}={value}"[:2000]


def test_the_rollup_command_says_what_it_set_aside(
    engine: Engine,
    sessions: sessionmaker[Session],
    settings: Settings,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with sessions.begin() as session:
        site_id = add_site(session)
        poison(session, site_id, invalid_utf8=False)
    monkeypatch.setenv("AVOWAL_ENV", "test")
    monkeypatch.setenv("AVOWAL_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("AVOWAL_DATABASE_URL", settings.effective_database_url)
    monkeypatch.setenv("AVOWAL_POLICY_FILE", str(settings.policy_file))
    now = dt.datetime.combine(DAY + dt.timedelta(days=1), dt.time(9), tzinfo=dt.UTC)
    monkeypatch.setattr(clock, "now", lambda: now)
    done = CliRunner().invoke(cli_app, ["analytics", "rollup"])
    assert done.exit_code == 0, done.output
    assert f"set aside 1 events of www.example.com {DAY}" in done.output
    assert f"rolled up www.example.com {DAY}" in done.output
    assert CANARY not in done.output

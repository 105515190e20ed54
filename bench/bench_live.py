"""Live totals: how long after its 202 an event shows in the dashboard's totals.

The real application (in-process, FastAPI TestClient, a migrated SQLite database in a temporary
folder, the example policy's site) receives page views on ``POST /api/event``; after each 202
the dashboard's summary API is read until its page views include the event. The worker's pass
(which moves the events into the rollups) runs every ``analytics_rollup_seconds``; before
incremental rollups with live reads, an event stayed out of the totals until that pass (up to
a minute). Target: visible on the first read after the 202, every time.

Then the cost of being live: the dashboard reads the rollups and adds the events past the rollup
mark. Side by side, the same summary with no such event and with one minute of a busy site's
events (400) not yet rolled up.
"""

from __future__ import annotations

import datetime as dt
import secrets
import statistics
import tempfile
import time
from pathlib import Path

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import insert, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import dashboard, worker
from avowal.analytics.models import Event, Site
from avowal.analytics.query import DayRange, Query
from avowal.analytics.readers import RollupReader
from avowal.app import create_app
from avowal.callers import service as callers
from avowal.db.engine import make_engine, make_read_sessionmaker, make_sessionmaker
from avowal.db.migrate import upgrade
from avowal.lib import clock
from avowal.settings import EXAMPLE_POLICY, Settings
from bench.timing import compare

ROOT = Path(__file__).resolve().parent.parent
SITE = "www.contactmonkey.com"  # the example policy's analytics site
EVENTS = 40
PENDING = 400
UA = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)


def run() -> None:
    """Print the delay between an event's 202 and its presence in the totals, and its cost."""
    with tempfile.TemporaryDirectory(prefix="avowal-bench-live-") as tmp:
        settings = Settings(env="test", data_dir=Path(tmp), policy_file=ROOT / EXAMPLE_POLICY)
        engine = make_engine(settings)
        upgrade(engine)
        app = create_app(settings, engine=engine)
        sessions = make_sessionmaker(engine)
        with sessions.begin() as session:
            token = callers.create(
                session,
                app.state.policies.current(),
                f"bench-{secrets.token_hex(4)}",
                "reporting_service",
            )
        with TestClient(app) as client:
            _delay(client, token, sessions, settings, app)
        # The worker's pass rolls those events up; then the cost of the ones it has not yet.
        worker.run_pass(sessions, settings, app.state.policies.current())
        _cost(sessions, make_read_sessionmaker(engine))
        engine.dispose()


def _pageviews(client: TestClient, token: str) -> int:
    today = clock.now().date().isoformat()
    answer = client.get(
        f"/v1/analytics/sites/{SITE}/summary",
        params={"from": today, "to": today},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert answer.status_code == 200, answer.text
    return int(answer.json()["totals"]["pageviews"])


def _delay(
    client: TestClient,
    token: str,
    sessions: sessionmaker[Session],
    settings: Settings,
    app: FastAPI,
) -> None:
    # A first pass marks how far events are rolled up, as a running worker would have.
    worker.run_pass(sessions, settings, app.state.policies.current())
    delays: list[float] = []
    first_read = 0
    for i in range(EVENTS):
        before = _pageviews(client, token)
        sent = client.post(
            "/api/event",
            content=f'{{"n":"pageview","u":"https://{SITE}/live/{i}","d":"{SITE}"}}',
            headers={
                "Content-Type": "text/plain",
                "User-Agent": UA,
                "X-Forwarded-For": f"198.51.100.{i % 250}",
            },
        )
        acknowledged = time.perf_counter()
        assert sent.status_code == 202, sent.text
        reads = 0
        while True:
            reads += 1
            if _pageviews(client, token) > before:
                break
            if reads > 1000:
                raise RuntimeError("the event never showed in the totals")
        delays.append(time.perf_counter() - acknowledged)
        first_read += reads == 1
    print(
        f"  live totals: {first_read}/{EVENTS} events in the totals on the first read after "
        f"their 202 (target: all); delay 202 -> visible: median "
        f"{statistics.median(delays) * 1000:.1f} ms, max {max(delays) * 1000:.1f} ms "
        f"(one summary request; before: up to analytics_rollup_seconds = "
        f"{settings.analytics_rollup_seconds} s)"
    )


def _cost(factory: sessionmaker[Session], readers: sessionmaker[Session]) -> None:
    """Time the dashboard with and without a minute of events past the mark (rolled back)."""
    now = clock.now()
    with factory() as session:
        site_id = session.scalar(select(Site.id).where(Site.domain == SITE))
    today = now.date()
    query = Query(site_id or 0, SITE, DayRange(today - dt.timedelta(days=29), today), True, ())

    def load(session: Session) -> None:
        source = RollupReader(session, query.site_id, visit_minutes=30)
        dashboard.summary(source, query)
        dashboard.breakdown(source, query, "page")
        dashboard.breakdown(source, query, "source")
        dashboard.timeseries(source, query)

    rows = [
        {
            "site_id": site_id,
            "ts": now - dt.timedelta(seconds=60 - i * 60 / PENDING),
            "day": today,
            "name": "pageview",
            "path": f"/p/{i % 40}",
            "source": ["Google", None, "Twitter"][i % 3],
            "visitor": i % (PENDING // 3),
        }
        for i in range(PENDING)
    ]
    with readers() as quiet, factory() as busy:
        busy.execute(insert(Event), rows)  # never committed: rolled back on leaving
        timings = compare({"none pending": lambda: load(quiet), "pending": lambda: load(busy)})
        busy.rollback()
    base, pending = timings["none pending"] * 1000, timings["pending"] * 1000
    print(
        f"  30-day dashboard load, live: {base:.2f} ms with every event rolled up, "
        f"{pending:.2f} ms with {PENDING} events (a minute of a busy site) not yet rolled up "
        f"({pending / base:.2f}x)"
    )

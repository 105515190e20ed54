"""Analytics dashboard: a 30-day dashboard at 100k and at 10M stored page views, from rollups.

Each data set is one site's page views over 30 days (January 2026), generated as raw events:
about 500 pages drawn from a Zipf-like law, ~30 sources (40% direct), UTM campaigns on 10% of
visits, 10 browser/OS/device mixes, 40 countries, 1 to 12 page views per visit, some custom
events, a daily rhythm; every day's events are inserted in time order like a live ingest. The
rollups are then computed from those raw events by the real rollup code, one day at a time.

The databases are cached in ``.avowal/bench/`` (10M page views take a few minutes and ~3 GB):
reruns only time the queries. Delete the folder to regenerate.

A "dashboard load" is what the dashboard asks for on opening: the summary compared with the
previous period, the top pages, the top sources and the daily time series. It is timed by
calling the dashboard functions (one session each, as a request has) and through the HTTP API
(FastAPI TestClient, service-token auth), 100k and 10M interleaved. Targets: at most 100 ms at
10M, and at most 2x the 100k time.

Then the worker's cost: one incremental step adding a busy minute of events to the last day,
against recomputing that day whole (what each pass did before rollups were incremental), and
the live dashboard with that minute not yet rolled up (rolled back afterwards). Last, filtered
dashboard loads (one and two filters, 30 days) at both sizes: computed from raw events, as at a
filter's first use, and read from the archive once the worker has archived the filter's days
(the archive is kept in the cached database). Target: at most 300 ms at 10M.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import random
import secrets
import sqlite3
import time
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from sqlalchemy import Engine, delete, func, insert, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import archive, dashboard, incremental, rollup
from avowal.analytics.filters import VisitFilter
from avowal.analytics.models import ArchivedDay, ArchivedRollup, Event, Site
from avowal.analytics.query import DayRange, Query
from avowal.analytics.readers import RawReader, RollupReader
from avowal.app import create_app
from avowal.callers import service as callers
from avowal.db.engine import make_engine, make_sessionmaker
from avowal.db.migrate import upgrade
from avowal.settings import EXAMPLE_POLICY, Settings
from bench.timing import compare

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / ".avowal" / "bench"
VERSION = 1  # bump when the generator changes: cached databases are then rebuilt
DOMAIN = "bench.example.com"
FIRST = dt.date(2026, 1, 1)
DAYS = 30
SIZES = {"100k": 100_000, "10M": 10_000_000}
TARGET_MS = 100.0
TARGET_RATIO = 2.0
FILTER_TARGET_MS = 300.0

rng0 = random.Random(2026)
PAGES = ["/", "/pricing", "/about", "/blog", "/docs", "/signup", "/login"] + [
    f"/{section}/{rng0.choice(['how', 'why', 'what', 'guide', 'notes'])}-{i}"
    for i, section in enumerate(
        rng0.choice(["blog", "docs", "help", "changelog"]) for _ in range(493)
    )
]
PAGE_WEIGHTS = [1 / (k**1.1) for k in range(1, len(PAGES) + 1)]
SOURCES = [
    None,
    "Google", "Bing", "DuckDuckGo", "Ecosia", "Twitter", "Facebook", "LinkedIn", "Reddit",
    "Hacker News", "GitHub", "Mastodon", "YouTube", "Newsletter", "Product Hunt", "Lobsters",
    "Stack Overflow", "Medium", "dev.to", "Qwant", "Yahoo", "Baidu", "Yandex", "Instagram",
    "Pinterest", "Slack", "Discord", "Wikipedia", "Substack", "news.example.org",
]  # fmt: skip
SOURCE_WEIGHTS = [40.0] + [30 / (k**1.3) for k in range(1, len(SOURCES))]
REFERRERS = {s: (s.lower().replace(" ", "") + ".com" if s and "." not in s else s) for s in SOURCES}
CAMPAIGNS = [("newsletter", "email", f"issue-{i}") for i in range(6)] + [
    ("google", "cpc", "brand"),
    ("google", "cpc", "generic"),
    ("twitter", "social", "launch"),
    ("partner", "referral", "spring"),
]
CLIENTS = [
    ("Chrome", "Windows", "desktop", 30),
    ("Chrome", "Android", "mobile", 22),
    ("Safari", "iOS", "mobile", 15),
    ("Safari", "macOS", "desktop", 8),
    ("Firefox", "Windows", "desktop", 5),
    ("Firefox", "Linux", "desktop", 3),
    ("Edge", "Windows", "desktop", 7),
    ("Chrome", "macOS", "desktop", 5),
    ("Safari", "iOS", "tablet", 3),
    ("Samsung Internet", "Android", "mobile", 2),
]
COUNTRIES = [f"{a}{b}" for a in "ABCDEFGH" for b in "ABCDE"][:40]
COUNTRY_WEIGHTS = [1 / k for k in range(1, 41)]
PV_COUNTS = [1, 2, 3, 4, 5, 6, 8, 12]
PV_WEIGHTS = [45, 20, 12, 8, 5, 4, 4, 2]
GAPS = [3, 8, 15, 30, 60, 120, 300, 900]
GAP_WEIGHTS = [5, 15, 20, 20, 18, 12, 7, 3]
HOUR_WEIGHTS = [2, 1, 1, 1, 1, 2, 3, 5, 7, 9, 10, 10, 9, 9, 10, 10, 9, 8, 7, 6, 6, 5, 4, 3]
TIMES = [f"{t // 3600:02d}:{t % 3600 // 60:02d}:{t % 60:02d}.000000" for t in range(86400)]
COLUMNS = (
    "site_id, ts, day, name, path, referrer_domain, source, utm_source, utm_medium, "
    "utm_campaign, utm_term, utm_content, browser, os, device, country, visitor, props"
)


def _cum(weights: list[float]) -> list[float]:
    total, out = 0.0, []
    for w in weights:
        total += w
        out.append(total)
    return out


def day_rows(rng: random.Random, site_id: int, day: dt.date, quota: int) -> list[tuple[Any, ...]]:
    """Return one day's raw events (exactly ``quota`` page views), in time order."""
    day_s = day.isoformat()
    pages = rng.choices(PAGES, cum_weights=_cum(PAGE_WEIGHTS), k=quota)
    gaps = rng.choices(GAPS, cum_weights=_cum(GAP_WEIGHTS), k=quota)
    source_cw, country_cw = _cum(SOURCE_WEIGHTS), _cum(COUNTRY_WEIGHTS)
    client_cw = _cum([c[3] for c in CLIENTS])
    pv_cw, hour_cw = _cum(PV_WEIGHTS), _cum(HOUR_WEIGHTS)
    rows: list[tuple[Any, ...]] = []
    seen: list[int] = []
    done = 0
    while done < quota:
        if seen and rng.random() < 0.12:
            visitor = rng.choice(seen)  # a second visit later the same day
        else:
            visitor = rng.getrandbits(64) - 2**63
            seen.append(visitor)
        t = rng.choices(range(24), cum_weights=hour_cw)[0] * 3600 + rng.randrange(3600)
        source = rng.choices(SOURCES, cum_weights=source_cw)[0]
        utm = rng.choice(CAMPAIGNS) if rng.random() < 0.1 else (None, None, None)
        browser, os_, device, _ = rng.choices(CLIENTS, cum_weights=client_cw)[0]
        country = rng.choices(COUNTRIES, cum_weights=country_cw)[0]
        n = min(rng.choices(PV_COUNTS, cum_weights=pv_cw)[0], quota - done)
        for i in range(n):
            if t >= 86400:
                break
            first = i == 0
            rows.append(
                (
                    site_id, f"{day_s} {TIMES[t]}", day_s, "pageview", pages[done],
                    REFERRERS[source] if first else None, source if first else None,
                    *(utm if first else (None, None, None)), None, None,
                    browser, os_, device, country, visitor, None,
                )
            )  # fmt: skip
            done += 1
            t += gaps[done - 1]
        if rng.random() < 0.05 and t < 86400:
            name, props = rng.choice(
                [("Signup", '{"plan": "pro"}'), ("Signup", '{"plan": "free"}'), ("Download", None)]
            )
            rows.append(
                (
                    site_id, f"{day_s} {TIMES[t]}", day_s, name, pages[done - 1], None, None,
                    None, None, None, None, None, browser, os_, device, country, visitor, props,
                )
            )  # fmt: skip
    rows.sort(key=lambda r: r[1])
    return rows


def _settings(path: Path) -> Settings:
    return Settings(
        env="test",
        data_dir=CACHE / "app",
        database_url=f"sqlite:///{path}",
        policy_file=ROOT / EXAMPLE_POLICY,
    )


def _rollup_digest() -> str:
    """Return a digest of the rollup code: cached rollups are recomputed when it changes."""
    return hashlib.sha256(Path(rollup.__file__).read_bytes()).hexdigest()[:16]


def _load(path: Path, pageviews: int) -> dict[str, Any]:
    """Create the database and bulk-load the raw events; return the facts of the load."""
    for stale in path.parent.glob(f"{path.name}*"):
        stale.unlink()
    engine = make_engine(_settings(path))
    upgrade(engine)
    with make_sessionmaker(engine).begin() as session:
        session.add(Site(domain=DOMAIN, source="cli", added_at=dt.datetime.now(dt.UTC)))
    engine.dispose()
    # Bulk load with raw sqlite3, indexes built afterwards: this is the benchmark's own database.
    start = time.perf_counter()
    con = sqlite3.connect(path)
    site_id = con.execute("SELECT id FROM analytics_sites WHERE domain = ?", (DOMAIN,)).fetchone()[
        0
    ]
    con.execute("PRAGMA journal_mode=OFF")
    con.execute("PRAGMA synchronous=OFF")
    con.execute("PRAGMA cache_size=-400000")
    con.execute("DROP INDEX ix_analytics_events_site_ts")
    con.execute("DROP INDEX ix_analytics_events_site_day_visitor")
    rng = random.Random(pageviews)
    events = 0
    placeholders = ", ".join("?" * 18)
    for i in range(DAYS):
        quota = pageviews // DAYS + (1 if i < pageviews % DAYS else 0)
        rows = day_rows(rng, site_id, FIRST + dt.timedelta(days=i), quota)
        con.executemany(f"INSERT INTO analytics_events ({COLUMNS}) VALUES ({placeholders})", rows)
        con.commit()
        events += len(rows)
    loaded = time.perf_counter() - start
    con.execute("CREATE INDEX ix_analytics_events_site_ts ON analytics_events (site_id, ts)")
    con.execute(
        "CREATE INDEX ix_analytics_events_site_day_visitor "
        "ON analytics_events (site_id, day, visitor)"
    )
    con.commit()
    con.execute("PRAGMA journal_mode=WAL")
    con.close()
    return {
        "version": VERSION,
        "pageviews": pageviews,
        "events": events,
        "load_s": round(loaded, 1),
        "index_s": round(time.perf_counter() - start - loaded, 1),
    }


def _roll(path: Path) -> dict[str, Any]:
    """Roll every day up from the raw events with the real rollup code; return the timings."""
    engine = make_engine(_settings(path))
    upgrade(engine)  # a database cached by an older version gains the new tables
    sessions = make_sessionmaker(engine)
    with sessions() as session:
        site_id = session.scalar(select(Site.id).where(Site.domain == DOMAIN))
    assert site_id is not None
    later = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS + 1), dt.time(), tzinfo=dt.UTC)
    with sessions.begin() as session:  # archived filters were computed by the old code
        for model in (ArchivedRollup, ArchivedDay):
            session.execute(delete(model))
    per_day = []
    for i in range(DAYS):
        t0 = time.perf_counter()
        with sessions.begin() as session:
            rollup.roll_day(
                session, site_id, FIRST + dt.timedelta(days=i), now=later, visit_minutes=30
            )
        per_day.append(time.perf_counter() - t0)
    engine.dispose()
    return {
        "rollup_digest": _rollup_digest(),
        "rollup_s": round(sum(per_day), 1),
        "rollup_day_max_s": round(max(per_day), 2),
    }


def generate(name: str, pageviews: int) -> dict[str, Any]:
    """Build (or reuse) the cached database of ``pageviews`` page views; return its facts."""
    CACHE.mkdir(parents=True, exist_ok=True)
    path = CACHE / f"analytics-{name}.sqlite3"
    facts_file = path.with_suffix(".json")
    facts: dict[str, Any] = json.loads(facts_file.read_text()) if facts_file.exists() else {}
    if not (
        path.exists() and facts.get("version") == VERSION and facts.get("pageviews") == pageviews
    ):
        print(f"  generating {name}: {pageviews:,} page views over {DAYS} days in {path} ...")
        facts = _load(path, pageviews)
        facts_file.write_text(json.dumps(facts, indent=2))
    if facts.get("rollup_digest") != _rollup_digest():
        print(f"  rolling up {name} (the rollup code changed or never ran) ...")
        facts.update(_roll(path))
        facts["bytes"] = path.stat().st_size
        facts_file.write_text(json.dumps(facts, indent=2))
    return facts


class DataSet:
    """A cached database opened for timing: sessions, an app client and a service token."""

    def __init__(self, name: str, pageviews: int) -> None:
        self.name = name
        self.facts = generate(name, pageviews)
        self.path = CACHE / f"analytics-{name}.sqlite3"
        settings = _settings(self.path)
        self.engine: Engine = make_engine(settings)
        upgrade(self.engine)  # a database cached by an older version gains the new tables
        self.sessions: sessionmaker[Session] = make_sessionmaker(engine=self.engine)
        app = create_app(settings, engine=self.engine)
        with self.sessions.begin() as session:
            self.site_id = session.scalar(select(Site.id).where(Site.domain == DOMAIN))
            token = callers.create(
                session,
                app.state.policies.current(),
                f"bench-{secrets.token_hex(4)}",
                "reporting_service",
            )
        # Entered once, as a server keeps running: without it each request starts an event loop.
        self.client = TestClient(app, headers={"Authorization": f"Bearer {token}"})
        self.client.__enter__()
        self.range = DayRange(FIRST, FIRST + dt.timedelta(days=DAYS - 1))
        self.query = Query(self.site_id or 0, DOMAIN, self.range, True, ())

    def direct(self) -> None:
        """One dashboard load through the dashboard functions."""
        with self.sessions() as session:
            source = RollupReader(session, self.query.site_id)
            dashboard.summary(source, self.query)
            dashboard.breakdown(source, self.query, "page")
            dashboard.breakdown(source, self.query, "source")
            dashboard.timeseries(source, self.query)

    def api(self) -> None:
        """One dashboard load through the HTTP API."""
        base = f"/v1/analytics/sites/{DOMAIN}"
        params = {"from": self.range.start.isoformat(), "to": self.range.end.isoformat()}
        for path, extra in (
            ("summary", {"compare": "previous"}),
            ("breakdown/page", {}),
            ("breakdown/source", {}),
            ("timeseries", {}),
        ):
            answer = self.client.get(f"{base}/{path}", params={**params, **extra})
            assert answer.status_code == 200, answer.text

    def rollup_day(self, day: dt.date) -> float:
        """Return the seconds one day's rollup takes (recomputed and replaced)."""
        later = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS + 1), dt.time(), tzinfo=dt.UTC)
        start = time.perf_counter()
        with self.sessions.begin() as session:
            rollup.roll_day(session, self.query.site_id, day, now=later, visit_minutes=30)
        return time.perf_counter() - start

    def filtered(
        self, filters: tuple[VisitFilter, ...], days: int = DAYS, *, archived: bool
    ) -> float:
        """Return the seconds of one filtered dashboard load over ``days`` days: archived days
        from the archive (``archived``), or every day computed from raw events."""
        q = Query(
            self.query.site_id,
            DOMAIN,
            DayRange(FIRST + dt.timedelta(days=DAYS - days), FIRST + dt.timedelta(days=DAYS - 1)),
            True,
            filters,
        )
        start = time.perf_counter()
        with self.sessions() as session:
            source = RawReader(session, q.site_id, filters, visit_minutes=30, archived=archived)
            dashboard.summary(source, q)
            dashboard.breakdown(source, q, "page")
            dashboard.breakdown(source, q, "source")
            dashboard.timeseries(source, q)
        return time.perf_counter() - start

    def archive(self, filters: tuple[VisitFilter, ...]) -> float:
        """Archive the filters' 30 days as the worker does (once; kept in the cached database);
        return the seconds it took (0 when already archived)."""
        later = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS + 1), dt.time(), tzinfo=dt.UTC)
        start = time.perf_counter()
        with self.sessions() as session:
            done = archive.archived_days(
                session, self.query.site_id, archive.filter_id(filters), list(self.range.each())
            )
        for day in self.range.each():
            if day not in done:
                with self.sessions.begin() as session:
                    archive.store(
                        session, self.query.site_id, filters, day, now=later, visit_minutes=30
                    )
        return time.perf_counter() - start if len(done) < DAYS else 0.0

    def incremental_minute(self, events: int) -> tuple[float, float]:
        """Return the seconds of a worker step adding a minute of events (``events``) to the
        last day, and of the live dashboard load with them not yet added; rolled back."""
        later = dt.datetime.combine(FIRST + dt.timedelta(days=DAYS), dt.time(), tzinfo=dt.UTC)
        last = FIRST + dt.timedelta(days=DAYS - 1)
        end = dt.datetime.combine(last, dt.time(23, 59), tzinfo=dt.UTC)
        with self.sessions() as session:
            site_id = self.query.site_id
            top = session.scalar(select(func.max(Event.id))) or 0
            incremental.set_mark(session, site_id, top, later)
            # Returning visitors of the day (their earlier events are read too) and new ones.
            known = session.scalars(
                select(Event.visitor)
                .where(Event.site_id == site_id, Event.day == last)
                .limit(events // 2)
            ).all()
            rng = random.Random(events)
            rows = [
                {
                    "site_id": site_id,
                    "ts": end + dt.timedelta(seconds=i * 60 / events),
                    "day": last,
                    "name": "pageview",
                    "path": rng.choice(PAGES),
                    "source": rng.choice(SOURCES),
                    "visitor": known[i] if i < len(known) else rng.getrandbits(62),
                }
                for i in range(events)
            ]
            session.execute(insert(Event), rows)
            t0 = time.perf_counter()
            self.live_load(session)
            live = time.perf_counter() - t0
            t0 = time.perf_counter()
            upto = session.scalar(select(func.max(Event.id)))  # the worker's bound, once committed
            incremental.advance(
                session, site_id, now=later, visit_minutes=30, upto=upto, limit=events
            )
            step = time.perf_counter() - t0
            session.rollback()
        return step, live

    def live_load(self, session: Session) -> None:
        """The dashboard load of :meth:`direct`, live (events past the mark added)."""
        source = RollupReader(session, self.query.site_id, visit_minutes=30)
        dashboard.summary(source, self.query)
        dashboard.breakdown(source, self.query, "page")
        dashboard.breakdown(source, self.query, "source")
        dashboard.timeseries(source, self.query)


def _verdict(ok: bool) -> str:
    return "PASS" if ok else "MISS"


def run() -> None:
    """Print the dashboard's time at 100k and 10M page views, and how it grows."""
    sets = {name: DataSet(name, n) for name, n in SIZES.items()}
    for ds in sets.values():
        f = ds.facts
        print(
            f"  {ds.name:>4}: {f['pageviews']:,} page views, {f['events']:,} events, "
            f"{f['bytes'] / 1e9:.2f} GB; generated: load {f['load_s']} s, indexes "
            f"{f['index_s']} s, rollups {f['rollup_s']} s (slowest day {f['rollup_day_max_s']} s)"
        )
    small, big = sets["100k"], sets["10M"]
    for ds in sets.values():  # warm the caches: the first read of a cold file is not the point
        ds.direct()
        ds.api()
    timings = compare(
        {
            "100k direct": small.direct,
            "10M direct": big.direct,
            "100k api": small.api,
            "10M api": big.api,
        },
        rounds=7,
        repeat=5,
    )
    print("  30-day dashboard load (summary+compare, top pages, top sources, daily series):")
    for kind in ("direct", "api"):
        s, b = timings[f"100k {kind}"] * 1000, timings[f"10M {kind}"] * 1000
        ratio = b / s
        print(
            f"    {kind:<6} 100k {s:7.2f} ms   10M {b:7.2f} ms   "
            f"10M <= {TARGET_MS:.0f} ms {_verdict(b <= TARGET_MS)}   "
            f"10M/100k {ratio:4.2f}x (<= {TARGET_RATIO:.0f}x {_verdict(ratio <= TARGET_RATIO)})"
        )
    day = FIRST + dt.timedelta(days=14)
    times = sorted(big.rollup_day(day) for _ in range(3))
    events_per_day = big.facts["events"] // DAYS
    print(
        f"  rollup of one 10M day ({events_per_day:,} events): median {times[1]:.2f} s "
        f"({times[1] / events_per_day * 1e6:.1f} us/event)"
    )
    minute = big.facts["events"] // DAYS // (24 * 60) * 3  # a busy minute: thrice the average
    steps = sorted(big.incremental_minute(minute) for _ in range(3))
    step, live = steps[1]
    print(
        f"  incremental worker step adding one busy minute of 10M ({minute} events): "
        f"{step * 1000:.0f} ms, against {times[1]:.2f} s to recompute the day "
        f"({times[1] / step:.0f}x less; per hour of a busy site: {step * 60:.1f} s of processor)"
    )
    pending = "with that minute not yet rolled up"
    print(f"  live 30-day dashboard load at 10M {pending}: {live * 1000:.0f} ms")
    google = (VisitFilter("source", "Google"),)
    two = (VisitFilter("source", "Google"), VisitFilter("device", "mobile"))
    print(
        "  filtered 30-day dashboard load (summary+compare, top pages, top sources, daily "
        f"series), target <= {FILTER_TARGET_MS:.0f} ms at 10M; from raw events (a filter's "
        "first use), and once the worker has archived the filter's days:"
    )
    for label, filters in (("source:Google", google), ("source:Google + device:mobile", two)):
        for ds in sets.values():
            took = ds.archive(filters)
            if took:
                print(f"    (archived {label} at {ds.name}: {took:.1f} s, once, in the worker)")
        cost = {
            (ds.name, archived): ds.filtered(filters, archived=archived) * 1000
            for archived in (False, True)
            for ds in sets.values()
        }
        for archived, how in ((False, "raw events"), (True, "archived")):
            s_ms, b_ms = cost[("100k", archived)], cost[("10M", archived)]
            print(
                f"    {label:<30} {how:<10} 100k {s_ms:8,.0f} ms   10M {b_ms:9,.0f} ms   "
                f"{_verdict(b_ms <= FILTER_TARGET_MS)}   10M/100k {b_ms / s_ms:5.1f}x "
                f"(<= {TARGET_RATIO:.0f}x {_verdict(b_ms / s_ms <= TARGET_RATIO)})"
            )
    for ds in sets.values():
        ds.client.__exit__(None, None, None)
        ds.engine.dispose()

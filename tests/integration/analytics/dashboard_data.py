"""Sites and raw analytics events for the rollup and dashboard tests, written to the tables."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from fastapi import FastAPI
from sqlalchemy import insert
from sqlalchemy.orm import Session

from avowal.analytics import worker
from avowal.analytics.clickhouse import events
from avowal.analytics.models import Event, Site
from avowal.analytics.store import COLUMNS

PATHS = ["/", "/pricing", "/blog", "/blog/one", "/blog/two", "/docs", "/docs/api", "/about"]
SOURCES = [None, None, "Google", "Google", "Twitter", "Newsletter", "news.example.com"]
BROWSERS = ["Firefox", "Chrome", "Safari", None]
OSES = ["Linux", "Windows", "macOS", "iOS", None]
DEVICES = ["desktop", "mobile", "tablet", None]
COUNTRIES = ["DE", "FR", "CA", None]
CAMPAIGNS = [None, None, None, "spring", "launch"]


def add_site(session: Session, domain: str = "www.example.com") -> int:
    """Add an analytics site; return its id."""
    site = Site(domain=domain, source="cli", added_at=dt.datetime.now(dt.UTC))
    session.add(site)
    session.flush()
    return site.id


def event(
    site_id: int,
    visitor: int,
    ts: dt.datetime,
    path: str = "/",
    *,
    name: str = "pageview",
    **attrs: Any,
) -> dict[str, Any]:
    """Return the column values of one raw event (``day`` is the UTC date of ``ts``)."""
    row: dict[str, Any] = {
        "site_id": site_id,
        "ts": ts,
        "day": ts.astimezone(dt.UTC).date(),
        "name": name,
        "path": path,
        "visitor": visitor,
    }
    for key in (
        "referrer_domain",
        "source",
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
        "browser",
        "os",
        "device",
        "country",
        "props",
        "scroll_depth",
        "engagement_ms",
        "revenue_amount",
        "revenue_currency",
    ):
        row[key] = attrs.pop(key, None)
    assert not attrs, f"unknown event attributes {sorted(attrs)}"
    return row


def add_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert raw events."""
    if rows:
        session.execute(insert(Event), rows)


def clickhouse_values(rows: list[dict[str, Any]]) -> list[list[Any]]:
    """Return event rows as ClickHouse insert values, in ``schema.COLUMNS`` order (no props is
    the empty map)."""
    return [
        [({} if row.get(c) is None else row[c]) if c == "props" else row.get(c) for c in COLUMNS]
        for row in rows
    ]


def store_events(app: FastAPI, session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert raw events where the app keeps them: ClickHouse if configured, else ``session``."""
    clickhouse = events.of(app.state.settings)
    if clickhouse is None:
        add_events(session, rows)
    else:
        clickhouse.insert(clickhouse_values(rows))


def roll_up(app: FastAPI, site_id: int, days: list[dt.date]) -> None:
    """Roll up ``days`` at NOW as the worker would have (from ClickHouse, if kept there)."""
    for day in days:
        worker.redo_day(app.state.sessionmaker, app.state.settings, site_id, day, NOW)


def random_events(
    site_id: int, first: dt.date, days: int, *, seed: int = 7, per_day: int = 60
) -> list[dict[str, Any]]:
    """Return a seeded mix of visitors, visits, page views and custom events over ``days``."""
    rng = random.Random(seed)
    rows: list[dict[str, Any]] = []
    for d in range(days):
        day_start = dt.datetime.combine(first + dt.timedelta(days=d), dt.time(), tzinfo=dt.UTC)
        for v in range(per_day):
            visitor = rng.getrandbits(63) - 2**62
            ts = day_start + dt.timedelta(seconds=rng.randrange(0, 80000), microseconds=v)
            end = day_start + dt.timedelta(days=1)
            for _visit in range(rng.choice([1, 1, 1, 2, 3])):
                source = rng.choice(SOURCES)
                attrs = {
                    "source": source,
                    "referrer_domain": f"{source.lower()}.example" if source else None,
                    "utm_campaign": rng.choice(CAMPAIGNS),
                    "utm_source": rng.choice([None, "mail"]),
                    "utm_medium": rng.choice([None, "email", "cpc"]),
                    "browser": rng.choice(BROWSERS),
                    "os": rng.choice(OSES),
                    "device": rng.choice(DEVICES),
                    "country": rng.choice(COUNTRIES),
                }
                for i in range(rng.choice([1, 1, 2, 3, 5])):
                    if ts >= end:
                        break
                    # Later events of a visit carry no source, like internal navigation.
                    first_attrs = attrs if i == 0 else {**attrs, "source": None}
                    rows.append(event(site_id, visitor, ts, rng.choice(PATHS), **first_attrs))
                    if rng.random() < 0.2:
                        ts += dt.timedelta(seconds=rng.randrange(1, 90))
                        props = rng.choice([None, {"plan": "pro"}, {"plan": "free", "n": "2"}])
                        name = rng.choice(["Signup", "Download"])
                        rows.append(
                            event(site_id, visitor, ts, rng.choice(PATHS), name=name, props=props)
                        )
                    ts += dt.timedelta(seconds=rng.choice([5, 40, 300, 1200, 1800, 1801, 2400]))
                ts += dt.timedelta(minutes=rng.choice([31, 45, 120]))
    rng.shuffle(rows)
    return rows


# The known data set of test_dashboard.py (its docstring tabulates every visit).
NOW = dt.datetime(2026, 3, 13, 12, 0, tzinfo=dt.UTC)
SITE = "www.example.com"
API = f"/v1/analytics/sites/{SITE}"
RANGE = {"from": "2026-03-10", "to": "2026-03-12"}

GOOGLE = {"source": "Google", "referrer_domain": "google.com"}
SPRING = {"utm_source": "news", "utm_medium": "email", "utm_campaign": "spring"}
A_DEVICE = {"browser": "Firefox", "os": "Linux", "device": "desktop", "country": "DE"}


def at(day: int, clock: str) -> dt.datetime:
    h, m, *s = (int(x) for x in clock.split(":"))
    return dt.datetime(2026, 3, day, h, m, s[0] if s else 0, tzinfo=dt.UTC)


def known_events(site: int) -> list[dict[str, Any]]:
    e = event
    return [
        # A1
        e(site, 1, at(10, "10:00"), "/", **GOOGLE, **SPRING, **A_DEVICE),
        e(site, 1, at(10, "10:01"), "/pricing", **A_DEVICE),
        e(site, 1, at(10, "10:03"), "/pricing", name="Signup", props={"plan": "pro"}, **A_DEVICE),
        e(site, 1, at(10, "10:05"), "/docs", **A_DEVICE),
        # A2
        e(site, 1, at(10, "11:00"), "/blog", **A_DEVICE),
        # B1
        e(
            site,
            2,
            at(10, "12:00"),
            "/",
            source="Twitter",
            referrer_domain="t.co",
            browser="Chrome",
            os="Android",
            device="mobile",
            country="FR",
        ),
        # C1
        e(
            site,
            3,
            at(11, "09:00"),
            "/pricing",
            **GOOGLE,
            browser="Safari",
            os="iOS",
            device="mobile",
        ),
        e(site, 3, at(11, "09:00:30"), "/", browser="Safari", os="iOS", device="mobile"),
        e(site, 3, at(11, "09:30:30"), "/docs", browser="Safari", os="iOS", device="mobile"),
        # A'1
        e(site, 1, at(11, "15:00"), "/", **A_DEVICE),
        # D1
        e(
            site,
            4,
            at(12, "23:50"),
            "/",
            browser="Firefox",
            os="Windows",
            device="desktop",
            country="CA",
        ),
        # E1
        e(
            site,
            5,
            at(12, "08:00"),
            "/blog",
            source="Newsletter",
            **SPRING,
            browser="Chrome",
            os="macOS",
            device="desktop",
            country="DE",
        ),
        e(site, 5, at(12, "08:02"), "/blog", name="Download"),
        # The previous period.
        e(site, 10, at(8, "10:00"), "/", **GOOGLE),
        e(site, 11, at(9, "10:00"), "/pricing"),
        e(site, 11, at(9, "10:10"), "/docs"),
        # Realtime (13 March, now 12:00): two visitors in the last 30 minutes, one before.
        e(site, 20, at(13, "11:40"), "/"),
        e(site, 21, at(13, "11:50"), "/pricing"),
        e(site, 21, at(13, "11:55"), "/"),
        e(site, 22, at(13, "11:20"), "/docs"),
    ]


def store_known(app: FastAPI) -> int:
    """Store the known data set and roll up 7-13 March 2026; return the site's id."""
    with app.state.sessionmaker.begin() as session:
        site_id = add_site(session, SITE)
        add_site(session, "quiet.example.com")
        store_events(app, session, known_events(site_id))
    roll_up(app, site_id, [dt.date(2026, 3, day) for day in range(7, 14)])
    return site_id


# F1 on 11 March: a visit with a value under every dimension (UTM term and content included),
# so that every table of the registry has a row.
EVERY = {
    **GOOGLE,
    "utm_source": "news",
    "utm_medium": "email",
    "utm_campaign": "autumn",
    "utm_term": "privacy",
    "utm_content": "banner",
    "browser": "Edge",
    "os": "Windows",
    "device": "tablet",
    "country": "NL",
}


def store_every_dimension(app: FastAPI) -> int:
    """Store the known data set and F1, a visit with every dimension; return the site's id.

    F1 (visitor 6, 11 March 13:00): /features (engaged 20 s, scrolled 80%), Purchase {tier=team}
    with EUR 30 and another Purchase with EUR 12.5 on /pricing, /thanks (engaged 4 s, scrolled
    40%); Google, every UTM tag, Edge Windows tablet NL.
    """
    site_id = store_known(app)
    e = event
    with app.state.sessionmaker.begin() as session:
        store_events(
            app,
            session,
            [
                e(site_id, 6, at(11, "13:00"), "/features", **EVERY),
                e(
                    site_id,
                    6,
                    at(11, "13:01"),
                    "/features",
                    name="engagement",
                    scroll_depth=80,
                    engagement_ms=20_000,
                ),
                e(
                    site_id,
                    6,
                    at(11, "13:02"),
                    "/pricing",
                    name="Purchase",
                    props={"tier": "team"},
                    revenue_amount="30",
                    revenue_currency="EUR",
                ),
                e(
                    site_id,
                    6,
                    at(11, "13:02:30"),
                    "/pricing",
                    name="Purchase",
                    revenue_amount="12.5",
                    revenue_currency="EUR",
                ),
                e(site_id, 6, at(11, "13:03"), "/thanks"),
                e(
                    site_id,
                    6,
                    at(11, "13:04"),
                    "/thanks",
                    name="engagement",
                    scroll_depth=40,
                    engagement_ms=4_000,
                ),
            ],
        )
    roll_up(app, site_id, [dt.date(2026, 3, 11)])
    return site_id

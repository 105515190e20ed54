"""Sites and raw analytics events for the rollup and dashboard tests, written to the tables."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

from sqlalchemy import insert
from sqlalchemy.orm import Session

from avowal.analytics.models import Event, Site

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
    ):
        row[key] = attrs.pop(key, None)
    assert not attrs, f"unknown event attributes {sorted(attrs)}"
    return row


def add_events(session: Session, rows: list[dict[str, Any]]) -> None:
    """Insert raw events."""
    if rows:
        session.execute(insert(Event), rows)


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

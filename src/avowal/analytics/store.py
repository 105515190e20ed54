"""Write a batch of pending events in the caller's transaction: hash, insert, count scrubs."""

from __future__ import annotations

import datetime as dt
from collections import Counter
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Table, insert
from sqlalchemy.orm import Session

from avowal.analytics import salts
from avowal.analytics.ingest import PendingEvent
from avowal.analytics.models import Event, ScrubCounter
from avowal.db.upsert import dialect_insert

EVENTS: Table = Event.__table__  # type: ignore[assignment]
SCRUBBED: Table = ScrubCounter.__table__  # type: ignore[assignment]


def write_events(session: Session, events: Sequence[PendingEvent], now: dt.datetime) -> None:
    """Insert ``events`` (one executemany) and add their scrub counts, in the open transaction."""
    if not events:
        return
    day_salts: dict[dt.date, bytes] = {}
    rows: list[dict[str, Any]] = []
    scrubbed: Counter[tuple[int, dt.date, str]] = Counter()
    for e in events:
        day = e.ts.astimezone(dt.UTC).date()
        salt = day_salts.get(day)
        if salt is None:
            salt = day_salts[day] = salts.salt_for(session, day, now)
        rows.append(
            {
                "site_id": e.site_id,
                "ts": e.ts,
                "day": day,
                "name": e.name,
                "path": e.path,
                "referrer_domain": e.referrer_domain,
                "source": e.source,
                **e.utm,
                "browser": e.browser,
                "os": e.os,
                "device": e.device,
                "country": e.country,
                "visitor": salts.visitor_hash(salt, e.site, e.ip, e.user_agent),
                "props": e.props,
                "interactive": e.interactive,
                "scroll_depth": e.scroll_depth,
                "engagement_ms": e.engagement_ms,
                "revenue_amount": e.revenue_amount,
                "revenue_currency": e.revenue_currency,
            }
        )
        for kind, count in e.scrubbed.items():
            if count:
                scrubbed[(e.site_id, day, kind)] += count
    # Core executemany: one round trip per batch (psycopg pipelines it), no ORM bookkeeping.
    session.execute(insert(EVENTS), rows)
    if scrubbed:
        # Sorted, so that two processes lock the counter rows in the same order.
        values = [
            {"site_id": site, "day": day, "kind": kind, "count": count}
            for (site, day, kind), count in sorted(scrubbed.items())
        ]
        upsert = dialect_insert(session, SCRUBBED).values(values)
        session.execute(
            upsert.on_conflict_do_update(
                index_elements=[SCRUBBED.c.site_id, SCRUBBED.c.day, SCRUBBED.c.kind],
                set_={"count": SCRUBBED.c.count + upsert.excluded["count"]},
            )
        )

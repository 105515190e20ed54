"""The ingest's raw insert (a multi-row INSERT on SQLite, COPY on PostgreSQL) stores exactly
what the ORM model stores, in batches of any size."""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.orm import Session

from avowal.analytics import salts, store
from avowal.analytics.ingest import UTM_FIELDS, PendingEvent
from avowal.analytics.models import Event, ScrubCounter
from avowal.db.engine import make_sessionmaker

# --- The raw insert stores exactly what the ORM stores ---------------------------------------
# executemany on SQLite, COPY on PostgreSQL, against the ORM model's own writes.

LAST_INSTANT = dt.datetime(2026, 3, 2, 23, 59, 59, 999999, tzinfo=dt.UTC)
# What a driver could get wrong: quotes, backslashes, tabs and newlines (COPY's own escapes),
# text beyond ASCII and beyond the BMP, a JSON-looking string, the longest values.
AWKWARD = 'a\'b"c\\d\te\nf\rg é \u2028 😀 \\N {"k": 1}'


def pending(**overrides: Any) -> PendingEvent:
    values: dict[str, Any] = {
        "site_id": 1,
        "site": "www.example.com",
        "ts": LAST_INSTANT,
        "name": "pageview",
        "path": "/",
        "referrer_domain": None,
        "source": None,
        "utm": dict.fromkeys(UTM_FIELDS),
        "props": None,
        "ip": "192.0.2.1",
        "user_agent": "Mozilla/5.0",
    }
    return PendingEvent(**{**values, **overrides})


PENDING = [
    pending(),
    pending(
        name=AWKWARD[:120],
        path="/" + AWKWARD + "x" * 1900,
        referrer_domain="news.ycombinator.com",
        source="Hacker News",
        utm={
            "utm_source": AWKWARD,
            "utm_medium": "",
            "utm_campaign": "c",
            "utm_term": None,
            "utm_content": "z" * 200,
        },
        props={"plan": "pro", AWKWARD: AWKWARD, "empty": "", "n": "3"},
        browser="Firefox",
        os="Linux",
        device="desktop",
        country="GB",
        interactive=False,
        scroll_depth=100,
        engagement_ms=2**53 - 1,
        revenue_amount="-999999999999.999999",
        revenue_currency="EUR",
        scrubbed={"email": 2, "phone": 1},
    ),
    pending(
        ts=LAST_INSTANT - dt.timedelta(days=1),
        props={},
        interactive=True,
        scroll_depth=0,
        engagement_ms=0,
        ip="2001:db8::1",
        user_agent=AWKWARD,
    ),
    pending(site_id=2, site="example.org", name="Signup", props={"k": "v"}),
]


def orm_write(session: Session, events: list[PendingEvent]) -> None:
    """The ORM's way: one Event object per pending event."""
    for e in events:
        day = e.ts.astimezone(dt.UTC).date()
        salt = salts.salt_for(session, day, LAST_INSTANT)
        session.add(
            Event(
                site_id=e.site_id,
                ts=e.ts,
                day=day,
                name=e.name,
                path=e.path,
                referrer_domain=e.referrer_domain,
                source=e.source,
                **e.utm,
                browser=e.browser,
                os=e.os,
                device=e.device,
                country=e.country,
                visitor=salts.visitor_hash(salt, e.site, e.ip, e.user_agent),
                props=e.props,
                interactive=e.interactive,
                scroll_depth=e.scroll_depth,
                engagement_ms=e.engagement_ms,
                revenue_amount=e.revenue_amount,
                revenue_currency=e.revenue_currency,
            )
        )


EVENT_COLUMNS = [c.name for c in Event.__table__.c if c.name != "id"]


def through_orm(engine: Engine) -> list[dict[str, Any]]:
    with Session(engine) as session:
        rows = session.scalars(select(Event).order_by(Event.id)).all()
        return [{c: getattr(r, c) for c in EVENT_COLUMNS} for r in rows]


def as_stored(engine: Engine) -> list[tuple[Any, ...]]:
    """The rows as the database holds them, without the ORM's conversions."""
    columns = ", ".join(EVENT_COLUMNS)
    cast = "CAST(props AS TEXT)" if engine.dialect.name == "postgresql" else "props"
    sql = f"SELECT {columns.replace('props', cast)} FROM analytics_events ORDER BY id"
    with engine.connect() as conn:
        return [tuple(row) for row in conn.execute(text(sql))]


def test_the_raw_insert_stores_what_the_orm_stores(engine: Engine) -> None:
    sessions = make_sessionmaker(engine)
    with sessions() as session, session.begin():
        orm_write(session, PENDING)
    orm_rows, orm_stored = through_orm(engine), as_stored(engine)
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM analytics_events"))
        conn.execute(text("DELETE FROM analytics_scrubbed"))
    with sessions() as session, session.begin():
        store.write_events(session, PENDING, LAST_INSTANT)
    raw_rows, raw_stored = through_orm(engine), as_stored(engine)

    assert len(raw_rows) == len(PENDING)
    assert raw_rows == orm_rows
    assert raw_stored == orm_stored
    # The same types, not only equal values (an aware time stays aware, a date a date).
    for raw, orm in zip(raw_rows, orm_rows, strict=True):
        assert {k: type(v) for k, v in raw.items()} == {k: type(v) for k, v in orm.items()}
    assert raw_rows[1]["props"] == {"plan": "pro", AWKWARD: AWKWARD, "empty": "", "n": "3"}
    assert raw_rows[1]["path"] == "/" + AWKWARD + "x" * 1900
    assert raw_rows[1]["interactive"] is False
    assert raw_rows[0]["props"] is None
    assert raw_rows[2]["props"] == {}
    with engine.connect() as conn:
        counted = conn.execute(select(ScrubCounter.kind, ScrubCounter.count)).all()
    assert sorted((str(k), int(n)) for k, n in counted) == [("email", 2), ("phone", 1)]


def test_batches_of_many_rows_are_stored_whole(engine: Engine) -> None:
    events = [pending(path=f"/p{i}", props={"i": str(i)}) for i in range(1200)]
    with make_sessionmaker(engine)() as session, session.begin():
        store.write_events(session, events, LAST_INSTANT)
    rows = through_orm(engine)
    assert [r["path"] for r in rows] == [f"/p{i}" for i in range(1200)]
    assert [r["props"] for r in rows] == [{"i": str(i)} for i in range(1200)]

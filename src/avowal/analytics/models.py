"""Analytics tables. Nothing identifying: no IP, no user agent, no referrer path, no query string.

The visitor is a keyed hash of (daily salt, site, IP, user agent); salts rotate daily and are
destroyed after 48 hours, after which no one can link a hash back to anyone, nor two days'
hashes to each other.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Index,
    Integer,
    LargeBinary,
    SmallInteger,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column

from avowal.db.base import Base

BigId = BigInteger().with_variant(Integer, "sqlite")


class Site(Base):
    """A site whose page views are counted (declared in the policy or added by CLI)."""

    __tablename__ = "analytics_sites"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    domain: Mapped[str] = mapped_column(String(253), unique=True)
    source: Mapped[str] = mapped_column(String(8), doc="policy or cli")
    added_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    share_token_hash: Mapped[str | None] = mapped_column(
        String(64), unique=True, doc="SHA-256 of a read-only share link's token, if any."
    )


class Salt(Base):
    """The random salt of one UTC day; destroyed 48 hours after the day began."""

    __tablename__ = "analytics_salts"

    day: Mapped[dt.date] = mapped_column(primary_key=True)
    salt: Mapped[bytes] = mapped_column(LargeBinary(32))
    created_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class Event(Base):
    """One page view or custom event, as kept (already scrubbed)."""

    __tablename__ = "analytics_events"
    __table_args__ = (
        Index("ix_analytics_events_site_ts", "site_id", "ts"),
        Index("ix_analytics_events_site_day_visitor", "site_id", "day", "visitor"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(Integer)
    ts: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    day: Mapped[dt.date] = mapped_column()
    name: Mapped[str] = mapped_column(String(120), doc="pageview or a custom event name")
    path: Mapped[str] = mapped_column(String(2000))
    referrer_domain: Mapped[str | None] = mapped_column(String(253))
    source: Mapped[str | None] = mapped_column(String(120))
    utm_source: Mapped[str | None] = mapped_column(String(200))
    utm_medium: Mapped[str | None] = mapped_column(String(200))
    utm_campaign: Mapped[str | None] = mapped_column(String(200))
    utm_term: Mapped[str | None] = mapped_column(String(200))
    utm_content: Mapped[str | None] = mapped_column(String(200))
    browser: Mapped[str | None] = mapped_column(String(60))
    os: Mapped[str | None] = mapped_column(String(60))
    device: Mapped[str | None] = mapped_column(String(16), doc="desktop, mobile, tablet")
    country: Mapped[str | None] = mapped_column(String(2))
    visitor: Mapped[int] = mapped_column(BigInteger, doc="Keyed hash under the day's salt.")
    props: Mapped[dict[str, str] | None] = mapped_column(JSON)
    interactive: Mapped[bool | None] = mapped_column(
        Boolean, doc="False for a non-interactive event (it does not end a bounce)."
    )
    scroll_depth: Mapped[int | None] = mapped_column(
        SmallInteger, doc="Engagement events: the page's deepest scroll, 0-100 percent."
    )
    engagement_ms: Mapped[int | None] = mapped_column(
        BigInteger, doc="Engagement events: milliseconds engaged on the page since the last one."
    )
    revenue_amount: Mapped[str | None] = mapped_column(
        String(40), doc="A revenue goal's amount, a decimal string (e.g. 12.5)."
    )
    revenue_currency: Mapped[str | None] = mapped_column(
        String(3), doc="A revenue goal's ISO 4217 currency."
    )


class RollupFigures:
    """The additive figures of one (dimension, value) of a day (:class:`rollup.Tally`)."""

    visitors: Mapped[int] = mapped_column(Integer)
    visits: Mapped[int] = mapped_column(Integer)
    pageviews: Mapped[int] = mapped_column(Integer)
    bounces: Mapped[int] = mapped_column(Integer)
    duration_s: Mapped[int] = mapped_column(BigInteger)
    events: Mapped[int] = mapped_column(Integer)
    engaged_ms: Mapped[int] = mapped_column(
        BigInteger, server_default="0", doc="Pages: milliseconds engaged (engagement events)."
    )
    scroll_sum: Mapped[int] = mapped_column(
        BigInteger, server_default="0", doc="Pages: the sum of each visit's deepest scroll."
    )
    scrolls: Mapped[int] = mapped_column(
        BigInteger, server_default="0", doc="Pages: the visits that reported engagement."
    )
    revenue_micros: Mapped[int] = mapped_column(
        BigInteger, server_default="0", doc="Revenue rows: the amount in millionths."
    )


class DailyRollup(RollupFigures, Base):
    """Per site, UTC day, dimension and value: the day's figures (additive across days)."""

    __tablename__ = "analytics_daily"
    __table_args__ = (UniqueConstraint("site_id", "day", "dimension", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[dt.date] = mapped_column()
    dimension: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(2000))


class HourlyRollup(Base):
    """Per site and UTC hour: visitors and page views, for the time-series chart."""

    __tablename__ = "analytics_hourly"
    __table_args__ = (UniqueConstraint("site_id", "hour"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(Integer)
    hour: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    visitors: Mapped[int] = mapped_column(Integer)
    visits: Mapped[int] = mapped_column(Integer)
    pageviews: Mapped[int] = mapped_column(Integer)
    events: Mapped[int] = mapped_column(Integer)


class RollupState(Base):
    """Which days of a site are rolled up, and when; days still changing are redone."""

    __tablename__ = "analytics_rollup_state"

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    rolled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))
    final: Mapped[bool] = mapped_column(default=False)


class RollupMark(Base):
    """How far a site's events are in its rollups: every event with ``id <= through_id``.

    The worker adds the events past the mark to the rollups (:mod:`avowal.analytics.incremental`)
    and moves it; readers add the events past it on the fly, so totals are live.
    """

    __tablename__ = "analytics_rollup_marks"

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    through_id: Mapped[int] = mapped_column(BigInteger)
    rolled_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class FilterUse(Base):
    """A filter (or set of filters) a dashboard or the Stats API used, and when last.

    The worker keeps the figures of recently used filters per final day
    (:mod:`avowal.analytics.archive`), so the same filtered view is next read like rollups.
    """

    __tablename__ = "analytics_filter_uses"

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filter_id: Mapped[str] = mapped_column(String(32), primary_key=True, doc="Digest of key.")
    key: Mapped[str] = mapped_column(String(8200), doc="The filters, one per line, sorted.")
    last_used_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ArchivedDay(Base):
    """A final day whose figures under a used filter are archived (rows may be none)."""

    __tablename__ = "analytics_archived_days"

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    filter_id: Mapped[str] = mapped_column(String(32), primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    archived_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))


class ArchivedRollup(RollupFigures, Base):
    """Like :class:`DailyRollup`, for the visits a used filter selects on one final day."""

    __tablename__ = "analytics_archived"
    __table_args__ = (UniqueConstraint("site_id", "filter_id", "day", "dimension", "value"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(Integer)
    filter_id: Mapped[str] = mapped_column(String(32))
    day: Mapped[dt.date] = mapped_column()
    dimension: Mapped[str] = mapped_column(String(24))
    value: Mapped[str] = mapped_column(String(2000))


class ScrubCounter(Base):
    """How many values of each kind were scrubbed from paths and props, per site and day."""

    __tablename__ = "analytics_scrubbed"

    site_id: Mapped[int] = mapped_column(Integer, primary_key=True)
    day: Mapped[dt.date] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    count: Mapped[int] = mapped_column(BigInteger)


class QuarantinedEvent(Base):
    """A stored event the worker could not read or roll up, set aside so the rest goes on.

    ``record`` keeps what could be read of it, unstorable characters replaced by U+FFFD (never
    the visitor hash); it is deleted with the raw events of its day. The review shows only the
    count, the site, the day, the field and the reason, never the record.
    """

    __tablename__ = "analytics_quarantine"
    __table_args__ = (Index("ix_analytics_quarantine_site_day", "site_id", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    site_id: Mapped[int] = mapped_column(Integer)
    day: Mapped[dt.date] = mapped_column()
    event_id: Mapped[int] = mapped_column(BigInteger, doc="Its id in analytics_events (gone).")
    stage: Mapped[str] = mapped_column(String(16), doc="What failed on it: rollup.")
    field: Mapped[str | None] = mapped_column(String(40), doc="The column at fault, if known.")
    reason: Mapped[str] = mapped_column(String(200), doc="Why, without any of its values.")
    record: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    quarantined_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True))

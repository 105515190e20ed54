"""The staff domain's clock: one function, so tests can move time (idle and absolute timeouts)."""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """Return the current time in UTC."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as UTC-aware: SQLite hands back the stored UTC times without a zone."""
    return value if value.tzinfo is not None else value.replace(tzinfo=dt.UTC)

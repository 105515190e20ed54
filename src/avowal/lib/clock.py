"""The one clock of avowal: every "now" and every stored time goes through here.

Call it as ``clock.now()`` (the module attribute), so tests can move time by patching one name.
"""

from __future__ import annotations

import datetime as dt


def now() -> dt.datetime:
    """Return the current time, aware, in UTC."""
    return dt.datetime.now(dt.UTC)


def aware(value: dt.datetime) -> dt.datetime:
    """Return ``value`` as an aware UTC time (SQLite hands stored timestamps back naive)."""
    return value.replace(tzinfo=dt.UTC) if value.tzinfo is None else value.astimezone(dt.UTC)


def current(value: dt.datetime | None) -> dt.datetime:
    """Return ``value`` as aware UTC, or the current time when it is None."""
    return now() if value is None else aware(value)


def iso(value: dt.datetime) -> str:
    """Return ``value`` as an ISO 8601 UTC string ending in ``Z``."""
    return aware(value).isoformat().replace("+00:00", "Z")

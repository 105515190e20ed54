"""A day's raw events of one visitor, split into visits (see :mod:`avowal.analytics.rollup`).

A gap longer than the visit length starts a new visit. Page views and custom events belong to
visits; a custom event sent with ``interactive: false`` does not end a bounce. Plausible's
``engagement`` events never start or extend a visit: each belongs to the visit under way (one
arriving outside any visit is ignored) and to its page, keeping per visit and page the deepest
scroll and the summed engaged milliseconds. A custom event's revenue is kept in millionths.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NamedTuple, cast

from sqlalchemy.orm import InstrumentedAttribute

from avowal.analytics.dimensions import ATTRIBUTES, DIRECT
from avowal.analytics.models import Event

# The visit attributes (the registry's, in its order), read from these columns from index 4 on.
VISIT_DIMENSIONS = tuple(d.name for d in ATTRIBUTES)
PAGEVIEW = "pageview"
ENGAGEMENT = "engagement"

EVENT_COLUMNS: tuple[InstrumentedAttribute[Any], ...] = (
    Event.visitor,
    Event.ts,
    Event.name,
    Event.path,
    *(cast(InstrumentedAttribute[Any], d.column) for d in ATTRIBUTES),
    Event.props,
    Event.interactive,
    Event.scroll_depth,
    Event.engagement_ms,
    Event.revenue_amount,
    Event.revenue_currency,
)
_ATTRS = slice(4, 4 + len(VISIT_DIMENSIONS))
_PROPS = 4 + len(VISIT_DIMENSIONS)
_INTERACTIVE, _DEPTH, _ENGAGED, _AMOUNT, _CURRENCY = range(_PROPS + 1, _PROPS + 6)

MICROS = 1_000_000
MAX_VALUE = 2000  # analytics_daily.value: a longer property label is cut to it
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)
_EPOCH_NAIVE = dt.datetime(1970, 1, 1)
_MICRO = dt.timedelta(microseconds=1)


def micros(ts: dt.datetime) -> int:
    """Return ``ts`` as integer microseconds since the epoch (SQLite hands back naive UTC)."""
    return (ts - (_EPOCH if ts.tzinfo is not None else _EPOCH_NAIVE)) // _MICRO


class Custom(NamedTuple):
    """A custom event of a visit."""

    ts: int
    name: str
    props: dict[str, Any] | None
    interactive: bool
    revenue: tuple[str, int] | None  # (currency, amount in millionths)


@dataclass(slots=True)
class Visit:
    """One visit: page views (time, path), custom events, engagement per page, attributes."""

    visitor: int
    start: int
    end: int
    attrs: tuple[str | None, ...]
    pages: list[tuple[int, str]] = field(default_factory=list)
    customs: list[Custom] = field(default_factory=list)
    # Per page: [deepest scroll, engaged milliseconds].
    engaged: dict[str, list[int]] = field(default_factory=dict)

    @property
    def bounce(self) -> bool:
        """Tell whether the visit is a bounce: one page view and no interactive custom event."""
        return len(self.pages) == 1 and not any(c.interactive for c in self.customs)

    @property
    def duration_s(self) -> int:
        """Return the seconds from the first to the last event, truncated."""
        return (self.end - self.start) // MICROS

    @property
    def source(self) -> str:
        """Return the visit's source (``Direct / None`` when it has none)."""
        return self.attrs[0] or DIRECT


def sessionise(visitor: int, rows: Iterable[Sequence[Any]], gap_minutes: int) -> list[Visit]:
    """Split one visitor's events (ordered by time, EVENT_COLUMNS) into visits."""
    gap = gap_minutes * 60 * MICROS
    visits: list[Visit] = []
    current: Visit | None = None
    for row in rows:
        ts = micros(row[1])
        if row[2] == ENGAGEMENT:
            if current is not None and ts - current.end <= gap:
                _engage(current, row)
            continue
        if current is None or ts - current.end > gap:
            current = Visit(visitor, ts, ts, tuple(row[_ATTRS]))
            visits.append(current)
        current.end = ts
        if row[2] == PAGEVIEW:
            current.pages.append((ts, row[3]))
        else:
            revenue = _revenue(row[_AMOUNT], row[_CURRENCY])
            interactive = row[_INTERACTIVE] is not False and row[_INTERACTIVE] != 0
            current.customs.append(Custom(ts, row[2], row[_PROPS], interactive, revenue))
    return visits


def _engage(visit: Visit, row: Sequence[Any]) -> None:
    found = visit.engaged.get(row[3])
    if found is None:
        found = visit.engaged[row[3]] = [0, 0]
    found[0] = max(found[0], int(row[_DEPTH] or 0))
    found[1] += int(row[_ENGAGED] or 0)


def _revenue(amount: str | None, currency: str | None) -> tuple[str, int] | None:
    if amount is None or currency is None:
        return None
    try:
        return currency, int(Decimal(amount) * MICROS)
    except (InvalidOperation, ValueError):
        return None


def by_visitor(rows: Iterable[Any]) -> Iterator[tuple[int, list[Sequence[Any]]]]:
    visitor: int | None = None
    batch: list[Sequence[Any]] = []
    for row in rows:
        if row[0] != visitor:
            if batch:
                yield visitor, batch  # type: ignore[misc]
            visitor, batch = row[0], []
        batch.append(row)
    if batch:
        yield visitor, batch  # type: ignore[misc]

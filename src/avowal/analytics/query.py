"""What a dashboard request asks for: a site, a range of UTC days, a comparison and filters.

Refusals name the parameter and the rule: a date is ``YYYY-MM-DD``; ``from`` is not after
``to``; a range spans at most 366 days; a filter is ``kind:value`` (the visits that have it) or
``kind!:value`` (those that have not), where ``kind`` is any dimension of
:mod:`avowal.analytics.dimensions` (``country:FR``, ``event:Signup``, ``prop:plan=pro``,
``entry_page!:/``); filters read raw events, so a filtered range must lie within the raw-event
retention of the policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from avowal.analytics import dimensions

# Re-exported for callers that catch it with the query's own refusals; defined once there.
from avowal.analytics.exceptions import UnknownSite as UnknownSite
from avowal.analytics.filters import VisitFilter
from avowal.analytics.models import Site
from avowal.lib.errors import AvowalError

MAX_DAYS = 366
DEFAULT_DAYS = 30
FILTER_KINDS = dimensions.NAMES
NOT = "!"  # ``kind!:value``: the visits without the value
MAX_FILTER_VALUE = 2000
RETENTION_RULE = "analytics.raw_retention_days"
# The realtime figures' window, in minutes (the dashboard's and the Stats API's).
REALTIME_MINUTES = 30


class InvalidQuery(AvowalError):
    status_code = 400
    error = "invalid_query"


class UnknownDimension(AvowalError):
    status_code = 404
    error = "unknown_dimension"


@dataclass(frozen=True)
class DayRange:
    """An inclusive range of UTC days."""

    start: dt.date
    end: dt.date

    @property
    def days(self) -> int:
        """Return how many days the range spans."""
        return (self.end - self.start).days + 1

    def previous(self) -> DayRange:
        """Return the period of equal length that ends the day before this one starts."""
        end = self.start - dt.timedelta(days=1)
        return DayRange(end - dt.timedelta(days=self.days - 1), end)

    def each(self) -> Iterator[dt.date]:
        """Yield every day of the range, oldest first."""
        for i in range(self.days):
            yield self.start + dt.timedelta(days=i)

    def bounds(self) -> tuple[dt.datetime, dt.datetime]:
        """Return the aware UTC start of the first day and of the day after the last."""
        start = dt.datetime.combine(self.start, dt.time(), tzinfo=dt.UTC)
        return start, start + dt.timedelta(days=self.days)


@dataclass(frozen=True)
class Query:
    """A parsed dashboard request."""

    site_id: int
    domain: str
    range: DayRange
    compare: bool
    filters: tuple[VisitFilter, ...]

    @property
    def filter_texts(self) -> list[str]:
        """Return the filters as given (``kind:value`` or ``kind!:value``)."""
        return [filter_text(f) for f in self.filters]


def filter_text(f: VisitFilter) -> str:
    """Return a filter as the dashboard takes it: ``kind:value`` or ``kind!:value``."""
    return f"{f.kind}{NOT if f.negated else ''}:{f.value}"


def describe(f: VisitFilter) -> str:
    """Return a filter for people, with its dimension's label: ``Country is not FR``."""
    return dimensions.BY_NAME[f.kind].describe(f.value, f.negated)


def site(session: Session, domain: str) -> tuple[int, str]:
    """Return (id, domain) of a site, or refuse with 404."""
    row = session.execute(select(Site.id, Site.domain).where(Site.domain == domain)).first()
    if row is None:
        raise UnknownSite(f"no analytics site '{domain}'", domain=domain)
    return row.id, row.domain


def _date(name: str, value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidQuery(
            f"'{name}' must be a date as YYYY-MM-DD, not '{value[:40]}'", field=name
        ) from None


def parse_range(start: str | None, end: str | None, today: dt.date) -> DayRange:
    """Parse ``from`` and ``to``: both default to the last 30 days ending today."""
    last = _date("to", end) if end else today
    first = _date("from", start) if start else last - dt.timedelta(days=DEFAULT_DAYS - 1)
    if first > last:
        raise InvalidQuery(
            f"'from' ({first}) is after 'to' ({last})", field="from", rule="from <= to"
        )
    days = (last - first).days + 1
    if days > MAX_DAYS:
        raise InvalidQuery(
            f"the range spans {days} days; at most {MAX_DAYS}",
            field="to",
            rule=f"at most {MAX_DAYS} days",
        )
    return DayRange(first, last)


def _bad_filter(text: str, reason: str) -> InvalidQuery:
    return InvalidQuery(
        f"filter '{text[:60]}' {reason}; a filter is kind:value or kind!:value (without it), "
        f"kind one of {', '.join(FILTER_KINDS)}",
        field="filter",
        filter=text[:200],
        kinds=list(FILTER_KINDS),
    )


def parse_filter(text: str) -> VisitFilter:
    """Parse one ``kind:value`` or ``kind!:value`` filter (``prop``'s value is ``key=value``)."""
    kind, sep, value = text.partition(":")
    negated = kind.endswith(NOT)
    if negated:
        kind = kind[: -len(NOT)]
    if not sep:
        raise _bad_filter(text, "has no ':'")
    if kind not in FILTER_KINDS:
        raise _bad_filter(text, f"names no dimension '{kind[:40]}'")
    if not value:
        raise _bad_filter(text, "has no value")
    if len(value) > MAX_FILTER_VALUE:
        raise _bad_filter(text, f"has a value over {MAX_FILTER_VALUE} characters")
    key, equals, _ = value.partition("=")
    if dimensions.BY_NAME[kind].kind == dimensions.PROP and not (key and equals):
        raise _bad_filter(text, "is not prop:key=value")
    return VisitFilter(kind, value, negated)


def parse_filters(given: Sequence[str]) -> tuple[VisitFilter, ...]:
    """Parse filters (``page:/pricing``, ``country!:FR``, ``prop:plan=pro``); all must hold."""
    return tuple(parse_filter(text) for text in given)


def parse_compare(value: str | None) -> bool:
    """Parse ``compare``: absent, or ``previous`` (the previous period of equal length)."""
    if value in (None, "", "none"):
        return False
    if value == "previous":
        return True
    raise InvalidQuery(f"'compare' is 'previous' or absent, not '{value[:40]}'", field="compare")


def first_kept_day(today: dt.date, retention_days: int) -> dt.date:
    """Return the oldest day whose raw events are kept: older days are purged."""
    return today - dt.timedelta(days=retention_days)


def check_retention(query: Query, today: dt.date, retention_days: int) -> None:
    """Refuse a filtered range that starts before the raw events kept (filters read them)."""
    if not query.filters:
        return
    oldest = first_kept_day(today, retention_days)
    ranges = [query.range, query.range.previous()] if query.compare else [query.range]
    start = min(r.start for r in ranges)
    if start < oldest:
        raise InvalidQuery(
            f"filters are computed from raw events, kept {retention_days} days: the range "
            f"(with its comparison) must start on {oldest} or later, not {start}",
            field="filter",
            rule=RETENTION_RULE,
            oldest=oldest.isoformat(),
        )


def parse(
    session: Session,
    domain: str,
    *,
    start: str | None,
    end: str | None,
    compare: str | None,
    filters: Sequence[str],
    today: dt.date,
    retention_days: int,
) -> Query:
    """Resolve the site and parse every parameter of a dashboard request."""
    site_id, name = site(session, domain)
    query = Query(
        site_id=site_id,
        domain=name,
        range=parse_range(start, end, today),
        compare=parse_compare(compare),
        filters=parse_filters(filters),
    )
    check_retention(query, today, retention_days)
    return query

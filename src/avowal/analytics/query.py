"""What a dashboard request asks for: a site, a range of UTC days, a comparison and filters.

Refusals name the parameter and the rule: a date is ``YYYY-MM-DD``; ``from`` is not after
``to``; a range spans at most 366 days; a filter is ``page:/path`` or ``source:Name``; filters
read raw events, so a filtered range must lie within the raw-event retention of the policy.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

# Re-exported for callers that catch it with the query's own refusals; defined once there.
from avowal.analytics.exceptions import UnknownSite as UnknownSite
from avowal.analytics.models import Site
from avowal.analytics.rollup import VisitFilter
from avowal.lib.errors import AvowalError

MAX_DAYS = 366
DEFAULT_DAYS = 30
FILTER_KINDS = ("page", "source")
RETENTION_RULE = "analytics.raw_retention_days"


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
        """Return the filters as given (``kind:value``)."""
        return [f"{f.kind}:{f.value}" for f in self.filters]


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


def parse_filters(given: Sequence[str]) -> tuple[VisitFilter, ...]:
    """Parse ``kind:value`` filters (``page:/pricing``, ``source:Google``); all must hold."""
    found: list[VisitFilter] = []
    for text in given:
        kind, sep, value = text.partition(":")
        if not sep or kind not in FILTER_KINDS or not value or len(value) > 2000:
            raise InvalidQuery(
                f"filter '{text[:60]}' is not one of page:/path or source:Name",
                field="filter",
                kinds=list(FILTER_KINDS),
            )
        found.append(VisitFilter(kind, value))
    return tuple(found)


def parse_compare(value: str | None) -> bool:
    """Parse ``compare``: absent, or ``previous`` (the previous period of equal length)."""
    if value in (None, "", "none"):
        return False
    if value == "previous":
        return True
    raise InvalidQuery(f"'compare' is 'previous' or absent, not '{value[:40]}'", field="compare")


def check_retention(query: Query, today: dt.date, retention_days: int) -> None:
    """Refuse a filtered range that starts before the raw events kept (filters read them)."""
    if not query.filters:
        return
    oldest = today - dt.timedelta(days=retention_days)
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

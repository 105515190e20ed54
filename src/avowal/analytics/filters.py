"""Filters of the dashboard and Stats API: which visits of a day count.

A filter names any dimension of :mod:`avowal.analytics.dimensions` and a value; the rollup code
(:func:`avowal.analytics.rollup.compute_day`) keeps only the visits every filter selects, so a
filtered figure is defined exactly like an unfiltered one.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any, TypeVarTuple

from sqlalchemy import Select, select

from avowal.analytics import dimensions
from avowal.analytics.dimensions import DIRECT
from avowal.analytics.models import Event
from avowal.analytics.visits import MAX_VALUE, PAGEVIEW, VISIT_DIMENSIONS, Visit

_Ts = TypeVarTuple("_Ts")
_ATTRIBUTE_INDEX = {name: i for i, name in enumerate(VISIT_DIMENSIONS)}


@dataclass(frozen=True)
class VisitFilter:
    """Keep only the visits that have ``value`` under a dimension (``negated``: that have not).

    ``kind`` is any dimension of :mod:`avowal.analytics.dimensions`: a visit attribute (its
    first event's; a visit without a source has ``Direct / None``), its entry or exit page, a
    page it viewed, a custom event it fired, or a property (``key=value``) of one.
    """

    kind: str
    value: str
    negated: bool = False

    def matches(self, visit: Visit) -> bool:
        """Tell whether ``visit`` is selected by the filter."""
        return self._has(visit) != self.negated

    def _has(self, visit: Visit) -> bool:
        kind, value = self.kind, self.value
        index = _ATTRIBUTE_INDEX.get(kind)
        if index is not None:
            found = visit.attrs[index]
            return (found or DIRECT) == value if index == 0 else found == value
        pages = visit.pages
        if kind == "page":
            return any(path == value for _, path in pages)
        if kind == "entry_page":
            return bool(pages) and pages[0][1] == value
        if kind == "exit_page":
            return bool(pages) and pages[-1][1] == value
        if kind == "event":
            return any(c.name == value for c in visit.customs)
        if kind == "prop":
            return any(
                f"{k}={v}"[:MAX_VALUE] == value
                for c in visit.customs
                if c.props
                for k, v in c.props.items()
            )
        raise ValueError(f"no dimension '{kind}'")

    def narrow(self, stmt: Select[*_Ts], site_id: int, day: dt.date) -> Select[*_Ts]:
        """Restrict ``stmt`` to visitors who may have a matching visit (a superset, in SQL)."""
        if self.negated:
            return stmt  # a visitor may have another visit that lacks the value: no superset
        dimension = dimensions.BY_NAME[self.kind]
        column: Any
        if dimension.column is not None:
            if self.kind == "source" and self.value == DIRECT:
                return stmt  # a direct visit's events carry no source: no cheap superset
            column = dimension.column
        elif dimension.kind == dimensions.PROP:
            return stmt  # properties are JSON: no portable index
        elif dimension.kind == dimensions.EVENT:
            column = Event.name
        else:
            column = Event.path
        inner = select(Event.visitor).where(
            Event.site_id == site_id, Event.day == day, column == self.value
        )
        if column is Event.path:
            inner = inner.where(Event.name == PAGEVIEW)
        return stmt.where(Event.visitor.in_(inner))

"""The ClickHouse SQL of a site's figures: visits, filters and rollup figures from raw events.

One statement computes every day of a range, in four steps over ``analytics_events``:

1. ``events``: the site's events of the range (narrowed, for each positive filter that allows
   it, to the (day, visitor) pairs that may match: an ``IN`` subquery, as
   :meth:`avowal.analytics.filters.VisitFilter.narrow`), each with the time of the visitor's
   previous page view or custom event of the day (a window over ``(day, visitor)`` ordered by
   ``(ts, id)``);
2. ``placed``: each page view or custom event starts a visit when that time is more than the
   gap before it; a running sum numbers the visits. An ``engagement`` event joins the visit under
   way when it comes within the gap, and is dropped otherwise (:mod:`avowal.analytics.visits`);
3. ``visits``: one row per visit (GROUP BY day, visitor, visit): its first event's attributes
   (those of the row that starts it), its page views and custom events as arrays sorted by
   (ts, id), its engagement events; the filters are a condition on these, so a visit is kept
   or dropped whole, as :meth:`avowal.analytics.filters.VisitFilter.matches` decides;
4. ``entries``: each visit becomes the entries ``(dimension, value, kind, a, b)`` of the keys
   :meth:`avowal.analytics.rollup.DayFigures._add_visit` adds it to (its visit keys, each page
   view, each engaged page it viewed, each custom event's name, properties and revenue, and
   the hours of its start, page views and custom events), ``arrayJoin``-ed; the last step sums
   them per (day, dimension, value), each figure by the entry's kind (see :data:`_SUMS`), and
   counts the group's distinct visitors. The hours are a dimension of their own (:data:`HOUR`,
   the hour since the epoch as value), so one statement answers the daily and hourly figures.

Steps 1 to 3 are one definition, :func:`computed_visits`: the worker uses it to keep the visits
of a day that is over in ``analytics_visits`` (:func:`store_visits_query`), with each visit's page
views, custom events, bounce and duration as columns of their own. A statement given such days
(``stored``) reads their visits from the stored tables and makes the other days' from raw
events: the figures are the same either way, and the days that are over skip the costly
sessionisation. For a stored day, the visit keys (totals, visit attributes) are a GROUP BY of
``analytics_visits`` rows, and the pages, entry and exit pages one of ``analytics_visit_pages``
rows (one per page a visit viewed, made from the visits: :data:`schema.PAGES_FROM_VISITS`),
where steps 4's entries would expand every page view (:func:`_stored_sums`); the custom events'
keys and the hours are step 4 over its stored visits, and so are the pages under a filter on a
page, custom event or property (a condition on a visit's pages or custom events, which a
visit's row has and a page's row has not). The filters are the same conditions on stored
visits as on visits made from raw events; the visits of a sample of visitors only when asked.
Each part is a statement of rows (day, dimension, value, figures); a statement is their UNION
ALL, summed over days in ClickHouse when asked (a table's values over a range: fetching every
day's rows would cost more than summing them).

A statement computes the dimensions it is asked for only (``wanted``; all by default): only the
families of entries they need are built (the visit keys of the wanted totals and visit
dimensions, and of those only; page views and engagement for ``page``; the custom events'
wanted keys for ``event``, ``prop`` and ``revenue``; the hours), so a reader asking one table
does not explode and group every other dimension's entries. Steps 1 to 3 are the same whatever
is wanted: a dimension's figures are the same as in the statement of all of them.

A dimension is sent as its index in :data:`avowal.analytics.rollup.DIMENSIONS` (a small
integer), not its name. Every value (site, days, gap, filter values, event names) is a
server-side parameter; only column names and integers of the registry are part of the text.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Sequence
from typing import Any, cast

from avowal.analytics import dimensions, rollup
from avowal.analytics.clickhouse import schema
from avowal.analytics.filters import VisitFilter
from avowal.analytics.visits import (
    ENGAGEMENT,
    MAX_VALUE,
    MICROS,
    PAGEVIEW,
    VISIT_DIMENSIONS,
)

# The rollup's dimensions by index, and one more for the hours.
DIMENSIONS = rollup.DIMENSIONS
INDEX = {name: i for i, name in enumerate(DIMENSIONS)}
HOUR = len(DIMENSIONS)
# Every dimension's index, the hours' too: what a statement computes by default.
ALL = frozenset(range(HOUR + 1))
# The raw columns of the visit attributes, in VISIT_DIMENSIONS order.
ATTRIBUTE_COLUMNS = tuple(
    cast(Any, dimensions.BY_NAME[name].column).key for name in VISIT_DIMENSIONS
)


def _attribute(i: int) -> str:
    return f"CAST(ifNull(tupleElement(attrs, {i + 1}), '') AS String)"


def _label(key: str, value: str) -> str:
    """The SQL of a property's label, ``f"{k}={v}"[:MAX_VALUE]`` in code points."""
    return f"substringUTF8(concat({key}, '=', {value}), 1, {MAX_VALUE})"


def _source() -> str:
    return f"if(empty({_attribute(0)}), {{direct:String}}, {_attribute(0)})"


def _has(f: VisitFilter, param: str) -> str:
    """The SQL telling whether a visit row has the filter's value (see VisitFilter._has)."""
    kind = f.kind
    if kind in VISIT_DIMENSIONS:
        i = VISIT_DIMENSIONS.index(kind)
        if i == 0 and f.value in (dimensions.DIRECT, ""):
            return f"{_source()} = {param}"
        # Another source is the attribute itself: compared as stored (low-cardinality), not
        # through _source()'s string functions.
        return f"ifNull(tupleElement(attrs, {i + 1}) = {param}, false)"
    if kind == "page":
        return f"arrayExists(p -> p.3 = {param}, pages)"
    if kind == "entry_page":
        return f"(notEmpty(pages) AND pages[1].3 = {param})"
    if kind == "exit_page":
        return f"(notEmpty(pages) AND pages[-1].3 = {param})"
    if kind == "event":
        return f"arrayExists(c -> c.3 = {param}, customs)"
    if kind == "prop":
        label = _label("k", "v")
        return (
            f"arrayExists(c -> arrayExists((k, v) -> {label} = {param}, "
            f"mapKeys(c.4), mapValues(c.4)), customs)"
        )
    raise ValueError(f"no dimension '{kind}'")


def _narrowing(f: VisitFilter, param: str) -> str | None:
    """The condition on raw events of the visitors who may match ``f``, if there is one."""
    if f.negated:
        return None  # a visitor may have another visit that lacks the value: no superset
    kind = f.kind
    if kind in VISIT_DIMENSIONS:
        if kind == "source" and f.value == dimensions.DIRECT:
            return None  # a direct visit's events carry no source
        return f"{ATTRIBUTE_COLUMNS[VISIT_DIMENSIONS.index(kind)]} = {param}"
    if kind in ("page", "entry_page", "exit_page"):
        return f"(name = {{pageview:String}} AND path = {param})"
    if kind == "event":
        return f"name = {param}"
    if kind == "prop":
        return (
            f"arrayExists((k, v) -> {_label('k', 'v')} = {param}, mapKeys(props), mapValues(props))"
        )
    raise ValueError(f"no dimension '{kind}'")


_RANGE = "site_id = {site_id:UInt32} AND day >= {first:Date} AND day <= {last:Date}"

# A visit's columns, as the ``visits`` step makes them and ``analytics_visits`` keeps them.
# Its page views, custom events, bounce (0 or 1) and duration in seconds are kept as columns of
# their own: a visit's figures read these, not its arrays.
VISIT_COLUMNS = (
    "day",
    "visitor",
    "first_t",
    "last_t",
    "attrs",
    "pages",
    "customs",
    "engagements",
    "views",
    "fired",
    "bounce",
    "duration",
)


def computed_visits(name: str, narrow: str = "") -> str:
    """The SQL of the CTEs making the site's events of ``{first:Date}`` to ``{last:Date}``
    (and ``narrow``, conditions added to their WHERE) into visits, the last CTE called
    ``name``: one row of :data:`VISIT_COLUMNS` per visit (steps 1 to 3 of the module's)."""
    attributes = ", ".join(ATTRIBUTE_COLUMNS)
    # A visit's attributes are its first event's: the one row of the visit that starts it
    # (anyIf keeps that row's NULL, having no other row to take).
    first_attributes = ", ".join(f"anyIf({c}, starts)" for c in ATTRIBUTE_COLUMNS)
    return f"""
events AS (
    SELECT day, visitor, id, toUnixTimestamp64Micro(ts) AS t, name, path,
        {attributes},
        props,
        ifNull(interactive, true) AS interactive,
        toInt64(ifNull(scroll_depth, 0)) AS depth,
        ifNull(engagement_ms, 0) AS engaged,
        revenue_currency AS currency,
        if(revenue_currency IS NULL, NULL,
           toInt64(toDecimal128OrNull(trimBoth(revenue_amount), 6) * {MICROS})) AS micros,
        name = {{engagement:String}} AS engagement,
        max(if(engagement, NULL, t)) OVER (
            PARTITION BY day, visitor ORDER BY t, id
            ROWS BETWEEN UNBOUNDED PRECEDING AND 1 PRECEDING
        ) AS previous
    FROM {schema.TABLE}
    WHERE {_RANGE} {narrow}
),
placed AS (
    SELECT *, sum(toInt64(starts)) OVER (
            PARTITION BY day, visitor ORDER BY t, id
            ROWS BETWEEN UNBOUNDED PRECEDING AND CURRENT ROW
        ) AS visit
    FROM (
        SELECT *, NOT engagement AND ifNull(t - previous > {{gap:Int64}}, true) AS starts
        FROM events
    )
    WHERE NOT engagement OR ifNull(t - previous <= {{gap:Int64}}, false)
),
{name} AS (
    SELECT day, visitor,
        minIf(t, NOT engagement) AS first_t,
        maxIf(t, NOT engagement) AS last_t,
        tuple({first_attributes}) AS attrs,
        arraySort(p -> (p.1, p.2),
            groupArrayIf((t, id, path), name = {{pageview:String}})) AS pages,
        arraySort(c -> (c.1, c.2),
            groupArrayIf((t, id, name, props, interactive, currency, micros),
                NOT engagement AND name != {{pageview:String}})) AS customs,
        groupArrayIf((path, depth, engaged), engagement) AS engagements,
        toInt64(length(pages)) AS views,
        toInt64(length(customs)) AS fired,
        toInt64(views = 1 AND NOT arrayExists(c -> c.5, customs)) AS bounce,
        intDiv(last_t - first_t, {MICROS}) AS duration
    FROM placed
    GROUP BY day, visitor, visit
)"""


def _visit_parameters(
    site_id: int, first: dt.date, last: dt.date, visit_minutes: int
) -> dict[str, Any]:
    return {
        "site_id": site_id,
        "first": first,
        "last": last,
        "minutes": visit_minutes,
        "gap": visit_minutes * 60 * MICROS,
        "pageview": PAGEVIEW,
        "engagement": ENGAGEMENT,
        "direct": dimensions.DIRECT,
    }


def store_visits_query(
    site_id: int, day: dt.date, *, visit_minutes: int
) -> tuple[str, dict[str, Any]]:
    """Return the statement and parameters inserting a site-day's visits into
    ``analytics_visits`` (:data:`schema.VISITS_TABLE`), made as :func:`computed_visits` makes
    them for :func:`figures_query`."""
    columns = ", ".join(VISIT_COLUMNS)
    statement = (
        f"INSERT INTO {schema.VISITS_TABLE} (site_id, visit_minutes, {columns}) "
        f"WITH {computed_visits('visits')} "
        f"SELECT {{site_id:UInt32}}, {{minutes:UInt32}}, {columns} FROM visits"
    )
    return statement, _visit_parameters(site_id, day, day, visit_minutes)


def figures_query(
    site_id: int,
    first: dt.date,
    last: dt.date,
    filters: Sequence[VisitFilter],
    *,
    visit_minutes: int,
    wanted: Collection[int] = ALL,
    stored: Collection[dt.date] = (),
    present: Collection[dt.date] | None = None,
    values: Collection[str] | None = None,
    summed: bool = False,
    sample: int | None = None,
) -> tuple[str, dict[str, Any]] | None:
    """Return the statement and parameters of the figures of ``first`` to ``last``: rows of
    (day, dimension index, value, visitors, then the other rollup figures), of the ``wanted``
    dimensions only (indices in :data:`DIMENSIONS`, or :data:`HOUR`); of the given ``values``
    only when given; ``summed`` over the days, without the day, when asked (each day's
    visitors added, as :class:`avowal.analytics.readers.DayFiguresReader` adds them); of the
    visitors whose hash is below ``sample`` only, when given (a
    :attr:`avowal.analytics.sampling.Sample.bound`: every table is sorted by visitor within a
    day, so only their share of each day is read; the figures are not scaled here). None when
    there is nothing to read: no day stored, and none with events (``present``, the days with
    events when known).

    The visits of the ``stored`` days (those of the range whose visits the worker keeps for this
    gap, :func:`avowal.analytics.clickhouse.events.stored_visit_days`) are read from
    ``analytics_visits`` and ``analytics_visit_pages``; the other days' are computed from raw
    events. A stored day's figures of the visit keys and pages are sums of those tables' rows
    (:func:`_stored_sums`); the custom events' and the hours' are the entries of its visits, as
    for raw events.
    """
    wanted = frozenset(wanted)
    if not wanted or not wanted <= ALL:
        raise ValueError(f"no dimensions to compute in {sorted(wanted)}")
    if summed and HOUR in wanted:
        raise ValueError("the hours are not summed over days")
    stored = set(stored)
    kept = sorted(d for d in stored if first <= d <= last)
    live = [d for d in _each(first, last) if d not in stored and (present is None or d in present)]
    if not kept and not live:
        return None
    # The raw events read are those of the days not stored only.
    parameters = _visit_parameters(
        site_id, live[0] if live else first, live[-1] if live else last, visit_minutes
    )
    stored_range = _STORED
    # The sampled visitors: a condition on every table read, the filters' lookups included.
    within = ""
    if sample is not None:
        parameters["sample"] = sample
        within = " AND visitor < {sample:Int64}"
        stored_range += within
    if kept:
        parameters.update(stored_first=kept[0], stored_last=kept[-1])
        if len(kept) < (kept[-1] - kept[0]).days + 1:  # not every day between them
            parameters["stored"] = kept
            stored_range += " AND has({stored:Array(Date)}, day)"
    # The filters' conditions on a visit's row, made from raw events or stored.
    having: list[str] = []
    narrow: list[str] = []
    for i, f in enumerate(filters):
        name = f"filter{i}"
        parameters[name] = f.value
        param = f"{{{name}:String}}"
        has = _has(f, param)
        having.append(f"NOT {has}" if f.negated else has)
        condition = _narrowing(f, param)
        if condition is not None:
            narrow.append(
                f"AND (day, visitor) IN (SELECT day, visitor FROM {schema.TABLE} "
                f"WHERE {_RANGE}{within} AND {condition})"
            )
    # The values asked for, as a list of parameters: a set, which ClickHouse looks up faster
    # than an array parameter.
    listed = "''"
    if values is not None:
        names = [f"value{i}" for i in range(len(set(values)))]
        parameters.update(zip(names, sorted(set(values)), strict=True))
        listed = ", ".join(f"{{{name}:String}}" for name in names) or "''"
    columns = ", ".join(VISIT_COLUMNS)
    parts: list[str] = []
    if live:
        if len(live) < (live[-1] - live[0]).days + 1:  # not every day between them
            parameters["live"] = live
            narrow.insert(0, "AND has({live:Array(Date)}, day)")
        if within:
            narrow.insert(0, within)
        parts.append(
            _statement(
                computed_visits("computed", " ".join(narrow))
                + f", visits AS (SELECT {columns} FROM computed WHERE "
                + (" AND ".join(having) or "true")
                + ")",
                wanted,
            )
        )
    if kept:
        where = " AND ".join([stored_range, *having])
        # A filter on a page, custom event or property is a condition on a visit's pages or
        # custom events, which a visit's row has and a page's row has not: the pages then come
        # from the matching visits' rows too.
        by_entries = _ENTRIES_ONLY
        if any(f.kind not in VISIT_DIMENSIONS for f in filters):
            by_entries = by_entries | _PAGES
        entries = wanted & by_entries
        if entries:
            parts.append(
                _statement(
                    f"visits AS (SELECT {columns} FROM {schema.VISITS_TABLE} WHERE {where})",
                    entries,
                )
            )
        parts += _stored_sums(wanted - by_entries, where, None if values is None else listed)
    union = " UNION ALL ".join(f"SELECT * FROM ({part})" for part in parts)
    chosen = f"value IN ({listed})" if values is not None else "true"
    if not summed:
        return f"SELECT * FROM ({union}) WHERE {chosen}", parameters
    sums = ", ".join(f"toInt64(sum({name}))" for name in rollup.FIGURES)
    return (
        f"SELECT dimension, value, {sums} FROM ({union}) WHERE {chosen} GROUP BY dimension, value",
        parameters,
    )


# The range of the days stored, in either stored table (both have these columns); the days
# themselves are checked when some between them are not stored.
_STORED = (
    "site_id = {site_id:UInt32} AND visit_minutes = {minutes:UInt32} "
    "AND day >= {stored_first:Date} AND day <= {stored_last:Date}"
)
# What a stored day's visits give only as entries: its custom events' keys and its hours.
_ENTRIES_ONLY = frozenset({INDEX["event"], INDEX["prop"], INDEX[rollup.REVENUE], HOUR})
# The dimensions of analytics_visit_pages' rows.
_PAGES = frozenset({INDEX["page"], INDEX["entry_page"], INDEX["exit_page"]})


def _stored_sums(wanted: frozenset[int], where: str, listed: str | None) -> list[str]:
    """The statements of the stored days' figures of the ``wanted`` visit keys and pages, each a
    GROUP BY of one stored table's rows (those of the visits ``where`` selects: conditions on
    the stored days and the visit attributes, which both tables' rows have; of the pages
    ``listed`` only, SQL values, when given), as the entries of the same visits would sum
    them."""
    parts: list[str] = []
    if INDEX["page"] in wanted and INDEX["exit_page"] in wanted:
        parts.append(_pages_and_exits(where, listed))
        wanted = wanted - {INDEX["page"], INDEX["exit_page"]}
    for i in sorted(wanted):
        name = DIMENSIONS[i]
        table = schema.VISITS_TABLE
        sums = _VISIT_SUMS
        condition = ""
        # Grouped by the stored value, low-cardinality, then made a string (one value per key).
        key = "value"
        if name == rollup.TOTAL:
            value = "''"
        elif name == "source":
            value = _source()  # both empty and missing are Direct: grouped by the string
        elif name in VISIT_DIMENSIONS:
            key = f"ifNull(tupleElement(attrs, {VISIT_DIMENSIONS.index(name) + 1}), '')"
            value = f"CAST({key} AS String)"
            condition = f" AND notEmpty({key})"
        else:
            table = schema.PAGES_TABLE
            key = "path"
            value = "CAST(path AS String)"
            if listed is not None:
                condition = f" AND path IN ({listed})"
            if name == "page":
                sums = _PAGE_SUMS
            else:  # the entry or exit page: a visit key of the visit's row for that page
                sums = _EDGE_SUMS
                condition += " AND entry" if name == "entry_page" else " AND exit"
        figures = ", ".join(
            f"toInt64({sums.get(figure, '0')}) AS {figure}" for figure in rollup.FIGURES[1:]
        )
        parts.append(
            f"SELECT day, toUInt8({i}) AS dimension, {value} AS value, "
            f"toInt64(uniqExact(visitor)) AS visitors, {figures} "
            f"FROM {table} WHERE {where}{condition} GROUP BY day, {key}"
        )
    return parts


# A visit key's figures: the visit, its page views, bounce, duration and custom events.
_VISIT_SUMS = {
    "visits": "count()",
    "pageviews": "sum(views)",
    "bounces": "sum(bounce)",
    "duration_s": "sum(duration)",
    "events": "sum(fired)",
}
# A page's figures, from its rows of analytics_visit_pages (one per visit that viewed it).
_PAGE_SUMS = {
    "visits": "count()",
    "pageviews": "sum(views)",
    "bounces": "sum(bounce)",
    "duration_s": "sum(seconds)",
    "engaged_ms": "sum(engaged_ms)",
    "scroll_sum": "sum(if(scrolled, scroll, 0))",
    "scrolls": "sum(scrolled)",
}
# An entry or exit page's figures: the visit keys of the visits' rows for that page.
_EDGE_SUMS = {**_VISIT_SUMS, "pageviews": "sum(visit_views)"}


def _pages_and_exits(where: str, listed: str | None) -> str:
    """The statement of the stored days' figures of the pages and of the exit pages together:
    one GROUP BY (day, path) of the pages' rows, each exit page's figures summed over the rows
    that are the visit's exit (``-If``), the two made rows of their own dimension by ARRAY
    JOIN. A page's table asks for both (its exit rate): one read of the rows instead of two."""
    exits = {
        "visits": "countIf(exit)",
        "pageviews": "sumIf(visit_views, exit)",
        "bounces": "sumIf(bounce, exit)",
        "duration_s": "sumIf(duration, exit)",
        "events": "sumIf(fired, exit)",
    }
    page, exit_page = INDEX["page"], INDEX["exit_page"]

    def figures(sums: dict[str, str], visitors: str) -> str:
        return ", ".join(
            [f"toInt64({visitors})"]
            + [f"toInt64({sums.get(figure, '0')})" for figure in rollup.FIGURES[1:]]
        )

    names = ", ".join(f"r.{n + 2} AS {figure}" for n, figure in enumerate(rollup.FIGURES))
    condition = f" AND path IN ({listed})" if listed is not None else ""
    return (
        f"SELECT day, r.1 AS dimension, value, {names} FROM ("
        f"SELECT day, CAST(path AS String) AS value, ["
        f"(toUInt8({page}), {figures(_PAGE_SUMS, 'uniqExact(visitor)')}), "
        f"(toUInt8({exit_page}), {figures(exits, 'uniqExactIf(visitor, exit)')})] AS rows "
        f"FROM {schema.PAGES_TABLE} WHERE {where}{condition} GROUP BY day, path"
        # An exit page's row only where the page was a visit's exit, as its own GROUP BY gives.
        f") ARRAY JOIN rows AS r WHERE r.1 = {page} OR r.3 > 0"
    )


def _each(first: dt.date, last: dt.date) -> list[dt.date]:
    return [first + dt.timedelta(days=n) for n in range((last - first).days + 1)]


# The kinds of entries a visit makes, and what each adds to its (dimension, value): a visit
# key adds the visit's figures; a page view (a: first view of the path in the visit, b: seconds
# to the next view) adds a page view, the visit and its bounce on a first view, and b seconds;
# an engagement (a: engaged ms, b: deepest scroll) adds to the scroll figures; a custom event's
# key (a: its first in the visit, b: revenue) adds an event, the visit on a first one and its
# revenue; an hour adds the visit started in it, a page view or a custom event.
VISIT_KEY, VIEW, ENGAGED, FIRED, HOUR_START, HOUR_VIEW, HOUR_EVENT = range(7)
_ENTRY = "Array(Tuple(UInt8, String, UInt8, Int64, Int64))"
# Per figure of rollup.FIGURES after visitors, its sum over the entries of a group.
_SUMS = {
    "visits": f"multiIf(kind IN ({VISIT_KEY}, {HOUR_START}), 1, kind IN ({VIEW}, {FIRED}), a, 0)",
    "pageviews": f"multiIf(kind = {VISIT_KEY}, views, kind IN ({VIEW}, {HOUR_VIEW}), 1, 0)",
    "bounces": f"multiIf(kind = {VISIT_KEY}, bounce, kind = {VIEW}, a * bounce, 0)",
    "duration_s": f"multiIf(kind = {VISIT_KEY}, duration, kind = {VIEW}, b, 0)",
    "events": f"multiIf(kind = {VISIT_KEY}, fired, kind IN ({FIRED}, {HOUR_EVENT}), 1, 0)",
    "engaged_ms": f"if(kind = {ENGAGED}, a, 0)",
    "scroll_sum": f"if(kind = {ENGAGED}, b, 0)",
    "scrolls": f"kind = {ENGAGED}",
    "revenue_micros": f"if(kind = {FIRED}, b, 0)",
}


def _entries(expr: str) -> str:
    # Every array of entries has one type, so that they concatenate.
    return f"CAST({expr}, '{_ENTRY}')"


def _concat(arrays: Sequence[str]) -> str:
    return arrays[0] if len(arrays) == 1 else f"arrayConcat({', '.join(arrays)})"


def _visit_entries(wanted: frozenset[int]) -> str | None:
    """The entries of a visit's wanted visit keys: totals, source (Direct / None when missing),
    other attributes when set, entry and exit pages."""
    index = INDEX
    keys: list[str] = []
    if index[rollup.TOTAL] in wanted:
        keys.append(f"[({index[rollup.TOTAL]}, '')]")
    if index["source"] in wanted:
        keys.append(f"[({index['source']}, {_source()})]")
    others = [i for i in range(1, len(VISIT_DIMENSIONS)) if index[VISIT_DIMENSIONS[i]] in wanted]
    if others:
        dims = ", ".join(str(index[VISIT_DIMENSIONS[i]]) for i in others)
        values = ", ".join(_attribute(i) for i in others)
        keys.append(f"arrayFilter(k -> notEmpty(k.2), arrayZip([{dims}], [{values}]))")
    for name, at in (("entry_page", 1), ("exit_page", -1)):
        if index[name] in wanted:
            keys.append(f"if(views > 0, [({index[name]}, pages[{at}].3)], [])")
    if not keys:
        return None
    return _entries(f"arrayMap(k -> (k.1, k.2, {VISIT_KEY}, 0, 0), {_concat(keys)})")


def _fired_keys(wanted: frozenset[int]) -> str | None:
    """Each custom event's wanted keys: (dimension, value, revenue) of its name, properties
    and revenue."""
    index = INDEX
    keys: list[str] = []
    if index["event"] in wanted:
        keys.append(f"[({index['event']}, CAST(c.3 AS String), toInt64(0))]")
    if index["prop"] in wanted:
        keys.append(
            f"arrayMap((k, v) -> ({index['prop']}, {_label('k', 'v')}, toInt64(0)), "
            "mapKeys(c.4), mapValues(c.4))"
        )
    if index[rollup.REVENUE] in wanted:
        keys.append(
            f"if(isNull(c.7), [], [({index[rollup.REVENUE]}, "
            "concat(ifNull(CAST(c.6 AS Nullable(String)), ''), ' ', CAST(c.3 AS String)), "
            "assumeNotNull(c.7))])"
        )
    if not keys:
        return None
    return f"arrayFlatten(arrayMap(c -> {_concat(keys)}, customs))"


def _statement(visits: str, wanted: frozenset[int]) -> str:
    index = INDEX
    families: list[str] = []
    visit_entries = _visit_entries(wanted)
    if visit_entries is not None:
        families.append(visit_entries)
    if index["page"] in wanted:
        families.append(
            _entries(
                f"arrayMap((p, i, u) -> ({index['page']}, p.3, {VIEW}, u = 1, "
                f"if(i < views, intDiv(pages[i + 1].1 - p.1, {MICROS}), 0)), "
                "pages, arrayEnumerate(pages), arrayEnumerateUniq(arrayMap(p -> p.3, pages)))"
            )
        )
        # Engagement, per page the visit viewed: its summed engaged time and deepest scroll.
        families.append(
            _entries(
                f"arrayMap(path -> ({index['page']}, path, {ENGAGED}, "
                "arraySum(arrayMap(e -> e.3, arrayFilter(e -> e.1 = path, engagements))), "
                "arrayMax(arrayMap(e -> e.2, arrayFilter(e -> e.1 = path, engagements)))), "
                "arrayFilter(path -> has(arrayMap(p -> p.3, pages), path), "
                "arrayDistinct(arrayMap(e -> e.1, engagements))))"
            )
        )
    # A custom event's key is its first in the visit by (dimension, value): the other keys
    # left out change no wanted key's rank.
    fired_keys = _fired_keys(wanted)
    fired_column = ""
    if fired_keys is not None:
        fired_column = f"{fired_keys} AS fired_keys,"
        families.append(
            _entries(
                f"arrayMap((k, u) -> (k.1, k.2, {FIRED}, u = 1, k.3), "
                "fired_keys, arrayEnumerateUniq(arrayMap(k -> (k.1, k.2), fired_keys)))"
            )
        )
    if HOUR in wanted:
        hour = f"toString(intDiv({{t}}, {rollup.HOUR_US}))"
        families.append(
            _entries(
                f"arrayConcat([({HOUR}, {hour.format(t='first_t')}, {HOUR_START}, 0, 0)], "
                f"arrayMap(p -> ({HOUR}, {hour.format(t='p.1')}, {HOUR_VIEW}, 0, 0), pages), "
                f"arrayMap(c -> ({HOUR}, {hour.format(t='c.1')}, {HOUR_EVENT}, 0, 0), customs))"
            )
        )
    sums = ", ".join(f"toInt64(sum({_SUMS[name]})) AS {name}" for name in rollup.FIGURES[1:])
    return f"""
WITH
{visits},
entries AS (
    SELECT day, visitor, views, fired, bounce, duration,
        {fired_column}
        arrayJoin({_concat(families)}) AS entry,
        entry.3 AS kind, entry.4 AS a, entry.5 AS b
    FROM visits
)
SELECT day, entry.1 AS dimension, entry.2 AS value, toInt64(uniqExact(visitor)) AS visitors,
    {sums}
FROM entries
GROUP BY day, dimension, value
"""

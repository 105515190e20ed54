"""Turn an incoming event into the rows that are kept: scrubbed, reduced, nothing identifying.

The IP address and user agent travel with a pending event only as far as the transaction that
hashes them under the day's salt (see :mod:`avowal.analytics.store`); they are never stored.

Text that cannot be stored (a lone surrogate sent as ``"\\ud800"``, which browsers'
``JSON.stringify`` writes for a broken string, a noncharacter, NUL) is cleaned here, on every
field: analytics keep a lossy copy, and one bad character must not cost the page view nor fail
the other events committed with it. Nesting deeper than :data:`avowal.lib.text.MAX_DEPTH` is
refused (``too_deeply_nested``).

Like Plausible, the ingest is lenient: what is invalid in an event is dropped and the rest kept
(non-scalar prop values, props past the 30th, a revenue without a valid amount and currency...),
each drop named by one of :data:`DROP_REASONS` and answered in the ``X-Avowal-Dropped`` header.
Plausible's ``engagement`` events are kept apart from custom events (see
:mod:`avowal.analytics.rollup`).
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from collections import Counter
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any, NoReturn
from urllib.parse import SplitResult, unquote, urlsplit

from pydantic import ValidationError

from avowal.analytics import scrub
from avowal.analytics.exceptions import InvalidEvent, MalformedPayload
from avowal.analytics.schemas import EventIn
from avowal.analytics.scrub import clean
from avowal.analytics.sites import UTM_FIELDS, SiteConfig, page_for, variants
from avowal.analytics.useragent import Agent
from avowal.lib import text

__all__ = ["UTM_FIELDS", "clean"]  # part of this module's interface, defined elsewhere
MAX_PROPS = 30
MAX_PROP_KEY = 300
MAX_PROP_VALUE = 2000
PAGEVIEW = "pageview"
ENGAGEMENT = "engagement"
# Schemes of addresses that are not a page (an app's own scheme, capacitor://, is one).
NOT_PAGES = frozenset({"ftp", "ftps", "file", "data", "javascript", "blob", "about", "mailto"})
_CURRENCY = re.compile(r"[A-Z]{3}")
MAX_REVENUE = Decimal(10) ** 12
REVENUE_PLACES = Decimal("0.000001")

# Everything the ingest may drop from an event it keeps, named in ``X-Avowal-Dropped``.
DROP_REASONS = {
    "props.nested": "a prop whose value is not a string, number or boolean (the prop dropped)",
    "props.too_many": f"props past the first {MAX_PROPS} (dropped)",
    "props.too_long": f"a prop value over {MAX_PROP_VALUE} characters (truncated)",
    "props.key": f"a prop whose name is empty or over {MAX_PROP_KEY} characters (dropped)",
    "revenue.invalid": "a revenue without a decimal amount and an ISO 4217 currency",
    "revenue.not_a_goal": "a revenue on a page view or engagement (revenue is a goal's)",
    "interactive.invalid": "an interactive flag that is not a boolean (read as true)",
    "engagement.invalid": "a scroll depth outside 0-100 or engaged time that is not a count",
}
# What the ingest of the current request dropped, read by the route for its header.
DROPPED: ContextVar[tuple[str, ...]] = ContextVar("analytics_dropped", default=())


@dataclass(slots=True)
class PendingEvent:
    """An event ready to be committed; ``ip`` and ``user_agent`` only feed the visitor hash."""

    site_id: int
    site: str
    ts: dt.datetime
    name: str
    path: str
    referrer_domain: str | None
    source: str | None
    utm: dict[str, str | None]
    props: dict[str, str] | None
    ip: str = field(repr=False)
    user_agent: str = field(repr=False)
    scrubbed: Mapping[str, int] = field(default_factory=dict)
    browser: str | None = None
    os: str | None = None
    device: str | None = None
    country: str | None = None
    interactive: bool | None = None  # False only: the event does not end a bounce
    scroll_depth: int | None = None
    engagement_ms: int | None = None
    revenue_amount: str | None = None
    revenue_currency: str | None = None

    def describe(self, agent: Agent, country: str | None) -> None:
        """Add what is kept of the user agent, and the country."""
        self.browser, self.os, self.device = agent.browser, agent.os, agent.device
        self.country = country


def parse_payload(body: bytes) -> EventIn:
    """Parse the body (JSON, whatever content type announced it) into an event."""
    # Two byte counts for an ordinary event (a few brackets at most), before any parser.
    if text.json_too_deep(body):
        raise _too_deep("body", body)
    try:
        event = EventIn.model_validate_json(body)
    except ValidationError as exc:
        first = exc.errors(include_url=False, include_input=False)[0]
        if first["type"] != "json_invalid":
            _refuse(exc)
        # Off the fast path: JSON that pydantic's parser refuses may still be an event whose
        # text holds a lone surrogate (cleaned later), or may be nested too deeply (refused).
        event = _parse_leniently(body)
    return event


def _parse_leniently(body: bytes) -> EventIn:
    try:
        decoded = json.loads(body)
    except (ValueError, RecursionError):
        raise _malformed() from None
    try:
        return EventIn.model_validate(_cleaned(decoded))
    except ValidationError as exc:
        _refuse(exc)


def _cleaned(value: Any) -> Any:
    """Return decoded JSON with unstorable characters replaced (its depth is already bounded)."""
    if isinstance(value, str):
        return text.clean(value)
    if isinstance(value, dict):
        return {text.clean(k): _cleaned(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_cleaned(v) for v in value]
    return value


def _refuse(exc: ValidationError) -> NoReturn:
    first = exc.errors(include_url=False, include_input=False)[0]
    if first["type"] in ("json_invalid", "model_type", "model_attributes_type") or not first["loc"]:
        raise _malformed() from None
    name = str(first["loc"][0])
    raise InvalidEvent(f"{name}: {first['msg']}", field=name) from None


def _malformed() -> MalformedPayload:
    return MalformedPayload(
        "the body must be a JSON object such as "
        '{"name": "pageview", "url": "https://example.com/", "domain": "example.com"}'
    )


def _too_deep(where: str, data: bytes | str) -> text.TooDeep:
    return text.too_deep_at(data, where)


def page_url(url: str) -> SplitResult:
    """Return the parts of the page's URL: http(s), or an app's scheme, with a host."""
    try:
        parts = urlsplit(url.strip())
        host = parts.hostname
    except ValueError:
        host = None
        parts = None
    if parts is None or not parts.scheme or parts.scheme in NOT_PAGES or not host:
        raise InvalidEvent(
            "url must be the page's http(s) address, e.g. https://example.com/pricing "
            "(or an app's, e.g. capacitor://localhost/)",
            field="url",
        )
    return parts


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, int | float | str):
        return str(value)
    return None


def props_of(
    raw: dict[str, Any] | str | None, counts: Counter[str], dropped: list[str] | None = None
) -> dict[str, str] | None:
    """Return the event's properties as scrubbed strings; drop (into ``dropped``) the invalid.

    Props that are not an object (nor a JSON object in a string) are refused.
    """
    drops: list[str] = [] if dropped is None else dropped
    if raw is None:
        return None
    if isinstance(raw, str):
        if text.json_too_deep(raw):
            raise _too_deep("props", raw)
        try:
            raw = json.loads(raw) if raw.strip() else None
        except (ValueError, RecursionError):
            raise InvalidEvent("props must be an object", field="props") from None
        if raw is None:
            return None
        if not isinstance(raw, dict):
            raise InvalidEvent("props must be an object", field="props")
    items = [(k, v) for k, v in raw.items() if v is not None]
    if len(items) > MAX_PROPS:
        items = items[:MAX_PROPS]
        drops.append("props.too_many")
    props: dict[str, str] = {}
    for key, value in items:
        scalar = _scalar(value)
        if scalar is None:
            drops.append("props.nested")
            continue
        if not key or len(key) > MAX_PROP_KEY:
            drops.append("props.key")
            continue
        if len(scalar) > MAX_PROP_VALUE:
            scalar = scalar[:MAX_PROP_VALUE]
            drops.append("props.too_long")
        props[scrub.scrub_text(clean(key), counts)] = scrub.scrub_text(clean(scalar), counts)
    return props or None


def revenue_of(raw: Any) -> tuple[str, str] | None:
    """Return a revenue's (amount as a decimal string, currency), or None if it is invalid."""
    if not isinstance(raw, dict):
        return None
    amount, currency = raw.get("amount"), raw.get("currency")
    if isinstance(amount, bool) or not isinstance(amount, str | int | float):
        return None
    if not isinstance(currency, str) or not _CURRENCY.fullmatch(currency.upper()):
        return None
    try:
        value = Decimal(str(amount).strip()).quantize(REVENUE_PLACES)
    except (InvalidOperation, ValueError):
        return None
    if not value.is_finite() or abs(value) >= MAX_REVENUE:
        return None
    text_value = format(value.normalize(), "f")
    return text_value, currency.upper()


def _count(value: Any, high: int | None) -> int | None:
    """Return a non-negative integer (at most ``high``), or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    if isinstance(value, float) and not (math.isfinite(value) and value.is_integer()):
        return None
    number = int(value)
    if number < 0 or (high is not None and number > high) or number >= 2**53:
        return None
    return number


@dataclass(slots=True)
class Extras:
    """What Plausible's tracker adds to an event: interactivity, revenue, engagement."""

    interactive: bool | None = None
    revenue: tuple[str, str] | None = None
    scroll_depth: int | None = None
    engagement_ms: int | None = None


def extras_of(event: EventIn, name: str, dropped: list[str]) -> Extras:
    """Return the event's interactivity, revenue and engagement; drop what is invalid."""
    extras = Extras()
    if name == ENGAGEMENT:
        extras.scroll_depth = _count(event.scroll_depth, 100)
        extras.engagement_ms = _count(event.engagement_time, None)
        bad_depth = event.scroll_depth is not None and extras.scroll_depth is None
        if bad_depth or (event.engagement_time is not None and extras.engagement_ms is None):
            dropped.append("engagement.invalid")
    if event.interactive is not None:
        if not isinstance(event.interactive, bool):
            dropped.append("interactive.invalid")
        elif not event.interactive and name not in (PAGEVIEW, ENGAGEMENT):
            extras.interactive = False
    if event.revenue is not None:
        if name in (PAGEVIEW, ENGAGEMENT):
            dropped.append("revenue.not_a_goal")
        else:
            extras.revenue = revenue_of(event.revenue)
            if extras.revenue is None:
                dropped.append("revenue.invalid")
    return extras


def _path_of(parts: SplitResult, hash_mode: bool) -> str:
    path = parts.path or "/"
    if hash_mode and parts.fragment:
        # Hash-based routers keep the page in the fragment (#/pricing); anything else in a
        # fragment is dropped.
        path = f"{path}#{parts.fragment.split('?', 1)[0]}"
    return path


def build(
    event: EventIn,
    sites: list[SiteConfig],
    *,
    ip: str,
    user_agent: str,
    now: dt.datetime,
) -> list[PendingEvent]:
    """Return one pending event per site, or none where the page's path is excluded.

    Every rule is checked here, so a refused event is refused whoever sent it (bot or not).
    What a site keeps of the page is remembered by :func:`avowal.analytics.sites.page_for`.
    """
    parts = page_url(clean(event.url))
    name_counts: Counter[str] = Counter()
    name = scrub.scrub_text(clean(event.name).strip(), name_counts)
    if not name:
        raise InvalidEvent("name must not be blank (page views are named pageview)", field="name")
    dropped: list[str] = []
    # An engagement's props repeat its page view's: not kept twice.
    props = None if name == ENGAGEMENT else props_of(event.props, name_counts, dropped)
    extras = extras_of(event, name, dropped)
    DROPPED.set(tuple(dict.fromkeys(dropped)) if dropped else ())
    raw_path = _path_of(parts, bool(event.hash_mode))
    ref_domain = scrub.referrer_domain(clean(event.referrer) if event.referrer else None)
    pending: list[PendingEvent] = []
    for site in sites:
        if site.exclude_paths and (
            scrub.is_excluded(raw_path, site.exclude_paths)
            or scrub.is_excluded(unquote(raw_path), site.exclude_paths)
        ):
            continue
        page = page_for(site, raw_path, parts.query)
        counts: Mapping[str, int] = {}
        if name_counts or page.scrubbed:
            counts = name_counts + Counter(dict(page.scrubbed))
        utm = page.utm_fields()
        # A visitor moving between pages of the same site is not referred by it.
        domain = None if ref_domain in variants(site.domain) else ref_domain
        source = utm["utm_source"] or scrub.source_name(domain)
        pending.append(
            PendingEvent(
                site_id=site.id,
                site=site.domain,
                ts=now,
                name=name[:120],
                path=page.path,
                referrer_domain=domain,
                source=source[:120] if source else None,
                utm=utm,
                props=props,
                ip=ip,
                user_agent=user_agent,
                scrubbed=counts,
                interactive=extras.interactive,
                scroll_depth=extras.scroll_depth,
                engagement_ms=extras.engagement_ms,
                revenue_amount=extras.revenue[0] if extras.revenue else None,
                revenue_currency=extras.revenue[1] if extras.revenue else None,
            )
        )
    return pending

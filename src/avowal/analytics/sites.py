"""The sites whose page views are counted: declared in the policy or added with the CLI.

Policy sites are written to ``analytics_sites`` at startup and take their query-parameter and
path rules from the policy; CLI sites use the policy's defaults. A policy site that leaves the
policy keeps its row (its figures stay readable) but stops accepting events, until removed.
With analytics disabled in the policy, no site accepts events, whoever added it.

What a site keeps of a page's address (its scrubbed path, kept parameters and UTM tags) is
worked out by :func:`page_for`. The same pages are visited again and again, so the answer is
remembered per (site, path, query string) in a bounded cache of :data:`PAGES` entries (the
oldest dropped first). Only answers in which nothing was scrubbed and every query parameter was
kept are remembered: the key then holds nothing that is not stored in the database anyway (a
path with an e-mail address in it, or a query string with a parameter the site does not keep,
is worked out again each time and never held). A site's rules are part of the key, so a change
of rules takes effect at once.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import re
import time
from collections import Counter, OrderedDict
from collections.abc import Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING
from urllib.parse import urlencode

from sqlalchemy import delete, select
from sqlalchemy.orm import Session, sessionmaker

from avowal.analytics import models, scrub
from avowal.analytics.exceptions import InvalidDomain, SiteExists, SiteInPolicy, SiteNotFound
from avowal.analytics.models import Site
from avowal.db import upsert
from avowal.policy.schemas import AnalyticsSite, Policy

if TYPE_CHECKING:
    from avowal.analytics.clickhouse.events import ClickHouseEvents

POLICY = "policy"
CLI = "cli"
DOMAIN = re.compile(r"^[a-z0-9.-]+\.[a-z]{2,}$|^localhost$")
DEFAULT_KEEP: tuple[str, ...] = tuple(AnalyticsSite(domain="example.com").keep_query_params)
# Another process (the CLI) may add or remove sites: look again this often, and at once (but
# at most this often) when an unknown domain is seen.
REFRESH_SECONDS = 30.0
MISS_REFRESH_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class SiteConfig:
    """A site that accepts events, with its rules."""

    id: int
    domain: str
    keep_query_params: tuple[str, ...] = DEFAULT_KEEP
    exclude_paths: tuple[str, ...] = ()


def normalise_domain(domain: str) -> str:
    """Return a domain lower-case, without surrounding spaces or a final dot."""
    return domain.strip().lower().rstrip(".")


def declared(policy: Policy) -> dict[str, AnalyticsSite]:
    """Return the policy's analytics sites by domain (none when analytics is disabled)."""
    if not policy.analytics.enabled:
        return {}
    return {normalise_domain(s.domain): s for s in policy.analytics.sites}


def sync_policy_sites(session: Session, policy: Policy, now: dt.datetime) -> None:
    """Write the policy's sites into ``analytics_sites`` (existing rows are left as they are)."""
    existing = set(session.scalars(select(Site.domain)))
    rows = [
        {"domain": domain, "source": POLICY, "added_at": now}
        for domain in declared(policy)
        if domain not in existing
    ]
    upsert.insert_missing(session, Site, rows, Site.domain)


def add_site(session: Session, domain: str, now: dt.datetime) -> Site:
    """Add a site from the command line."""
    domain = normalise_domain(domain)
    if len(domain) > 253 or not DOMAIN.match(domain):
        raise InvalidDomain(
            f"{domain!r} is not a domain name (write e.g. example.com or localhost)",
            domain=domain,
        )
    if session.scalar(select(Site.id).where(Site.domain == domain)) is not None:
        raise SiteExists(f"site {domain} is already counted", domain=domain)
    site = Site(domain=domain, source=CLI, added_at=now)
    session.add(site)
    session.flush()
    return site


def remove_site(
    session: Session, domain: str, policy: Policy, clickhouse: ClickHouseEvents | None = None
) -> int:
    """Remove a site with all its events, figures and counters; return its events' count.

    With ``clickhouse``, its events there are deleted first: if that fails, nothing is removed.
    """
    domain = normalise_domain(domain)
    if domain in declared(policy):
        raise SiteInPolicy(
            f"site {domain} is declared in the policy's analytics section: remove it there "
            "first, or it is added again when the server starts",
            domain=domain,
        )
    site_id = session.scalar(select(Site.id).where(Site.domain == domain))
    if site_id is None:
        raise SiteNotFound(f"no site {domain}", domain=domain)
    removed = 0
    for table in (
        models.Event,
        models.DailyRollup,
        models.HourlyRollup,
        models.RollupState,
        models.ScrubCounter,
    ):
        result = session.execute(delete(table).where(table.site_id == site_id))
        if table is models.Event:
            removed = int(getattr(result, "rowcount", 0) or 0)
    session.execute(delete(Site).where(Site.id == site_id))
    if clickhouse is not None:
        removed += clickhouse.delete_site(site_id)
    return removed


def list_sites(session: Session) -> list[Site]:
    """Return every site row, by domain."""
    return list(session.scalars(select(Site).order_by(Site.domain)))


def is_active(site: Site, policy: Policy) -> bool:
    """Say whether a site row accepts events under ``policy``."""
    return policy.analytics.enabled and (site.source == CLI or site.domain in declared(policy))


def active_sites(session: Session, policy: Policy) -> dict[str, SiteConfig]:
    """Return the sites that accept events, by domain, with their rules (none if disabled)."""
    if not policy.analytics.enabled:
        return {}
    rules = declared(policy)
    active: dict[str, SiteConfig] = {}
    for site in session.scalars(select(Site)):
        rule = rules.get(site.domain)
        if rule is not None:
            active[site.domain] = SiteConfig(
                site.id, site.domain, tuple(rule.keep_query_params), tuple(rule.exclude_paths)
            )
        elif site.source == CLI:
            active[site.domain] = SiteConfig(site.id, site.domain)
    return active


def variants(domain: str) -> tuple[str, ...]:
    """Return a domain and its form with or without ``www.``."""
    if domain.startswith("www."):
        return domain, domain[4:]
    return domain, f"www.{domain}"


class SiteRegistry:
    """The active sites, read from the database and refreshed now and then."""

    def __init__(self, sessions: sessionmaker[Session], policy: Policy) -> None:
        self.sessions = sessions
        self.policy = policy
        self.sites: dict[str, SiteConfig] = {}
        self.loaded_at = float("-inf")
        self._lock = asyncio.Lock()

    def load(self) -> None:
        """Read the active sites now (blocking)."""
        with self.sessions() as session:
            self.sites = active_sites(session, self.policy)
        self.loaded_at = time.monotonic()

    async def refresh(self, *, missed: bool = False) -> None:
        """Reload in a worker thread when the list is old (or sooner after a miss)."""
        age = time.monotonic() - self.loaded_at
        if age < (MISS_REFRESH_SECONDS if missed else REFRESH_SECONDS):
            return
        async with self._lock:
            if time.monotonic() - self.loaded_at >= MISS_REFRESH_SECONDS:
                await asyncio.to_thread(self.load)

    def match(self, domain: str) -> SiteConfig | None:
        """Return the site for ``domain`` (www. or not), if it accepts events."""
        for name in variants(normalise_domain(domain)):
            site = self.sites.get(name)
            if site is not None:
                return site
        return None

    async def find(self, domains: Iterable[str]) -> list[SiteConfig]:
        """Return the accepting sites among ``domains``, each once, refreshing on a miss."""
        names = [d for d in domains if d.strip()]
        if time.monotonic() - self.loaded_at >= REFRESH_SECONDS:
            await self.refresh()
        found = [self.match(d) for d in names]
        if len(found) == 1 and (only := found[0]) is not None:
            return [only]  # the usual event: one domain, counted here
        if None in found:
            await self.refresh(missed=True)
            found = [self.match(d) for d in names]
        unique: dict[int, SiteConfig] = {}
        for site in found:
            if site is not None:
                unique.setdefault(site.id, site)
        return list(unique.values())

    def allows_origin_host(self, host: str) -> bool:
        """Say whether a page on ``host`` belongs to an accepting site or one of its subdomains.

        Plausible's documented set-up has pages on ``blog.example.com`` report ``example.com``;
        a site declared as ``www.example.com`` covers ``example.com`` and its subdomains too.
        """
        labels = normalise_domain(host).split(".")
        return any(self.match(".".join(labels[i:])) is not None for i in range(len(labels)))


# --- What a site keeps of a page ---------------------------------------------------------

UTM_FIELDS = ("utm_source", "utm_medium", "utm_campaign", "utm_term", "utm_content")
MAX_PATH = 2000
MAX_UTM = 200
PAGES = 4096
# Longer paths and query strings are worked out each time (and never held).
MAX_KEY = 512


@dataclass(frozen=True, slots=True)
class Page:
    """A page as one site keeps it."""

    path: str
    utm: tuple[str | None, ...]  # in UTM_FIELDS order
    scrubbed: tuple[tuple[str, int], ...] = ()

    def utm_fields(self) -> dict[str, str | None]:
        """Return the UTM tags by field name."""
        return dict(zip(UTM_FIELDS, self.utm, strict=True))


_pages: OrderedDict[tuple[SiteConfig, str, str], Page] = OrderedDict()


def page_for(site: SiteConfig, raw_path: str, query: str) -> Page:
    """Return what ``site`` keeps of a page (``raw_path`` as sent, ``query`` without ``?``)."""
    key = (site, raw_path, query)
    page = _pages.get(key)
    if page is not None:
        return page
    counts: Counter[str] = Counter()
    kept = scrub.keep_params(query, site.keep_query_params, counts)
    # Kept UTM parameters go to their own fields; other kept parameters stay in the path,
    # so that /pricing?utm_source=x and /pricing count as one page.
    utm: dict[str, str | None] = dict.fromkeys(UTM_FIELDS)
    others = []
    for name, value in kept:
        if name in utm:
            if utm[name] is None and value:
                utm[name] = scrub.clean(value)[:MAX_UTM]
        else:
            others.append((name, value))
    path = scrub.scrub_path(raw_path, counts)
    if others:
        path = f"{path}?{urlencode(others)}"
    page = Page(scrub.clean(path)[:MAX_PATH], tuple(utm.values()), tuple(counts.items()))
    all_kept = len(kept) == sum(1 for piece in query.split("&") if piece) if query else True
    if not page.scrubbed and all_kept and len(raw_path) + len(query) <= MAX_KEY:
        scrub.remember(_pages, key, page, PAGES)
    return page

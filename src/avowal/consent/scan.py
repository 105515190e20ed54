"""The cookie scanner: drive headless Chromium through a site's pages and judge what it stores.

Three passes, each in a fresh browser context: before any choice, after the banner's "Reject
all", after its "Accept all". Each pass gathers the cookies (HttpOnly ones included) and the
``localStorage`` and ``sessionStorage`` keys of every page's origin; :func:`judge` compares them
with the policy's cookie declaration (storage keys are declared by name, like cookies).

Playwright is imported only when a browser is driven, so judging needs no browser at all.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field

from avowal.consent.cookie import NECESSARY, declared
from avowal.policy.schemas import CookieCategory, Policy

if TYPE_CHECKING:
    from playwright.sync_api import BrowserContext, Page

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
)
WAIT_MS = 2000
CLICK_MS = 10_000
BUTTON = '[data-avowal-consent="{choice}"]'


class Pass(StrEnum):
    """A pass of the scan, in the order it runs, with the banner button it clicks first."""

    before = "before"
    rejected = "rejected"
    accepted = "accepted"

    @property
    def choice(self) -> str | None:
        """Return the banner button's ``data-avowal-consent`` value, or None (no click)."""
        return {"rejected": "reject-all", "accepted": "accept-all"}.get(self.value)


class Store(StrEnum):
    cookie = "cookie"
    local_storage = "localStorage"
    session_storage = "sessionStorage"


class FindingKind(StrEnum):
    """What can be wrong, each with the sentence that explains it."""

    undeclared = "undeclared"
    before_consent = "before_consent"
    after_rejection = "after_rejection"
    no_banner = "no_banner"

    @property
    def explanation(self) -> str:
        """Return what this kind of finding means, for a person."""
        return {
            "undeclared": "stored, but the policy does not declare it",
            "before_consent": "not strictly necessary, yet stored before any choice",
            "after_rejection": "not strictly necessary, yet present after 'Reject all'",
            "no_banner": "no consent banner (no reject or accept button), though the policy "
            "lets visitors refuse cookies",
        }[self.value]


class Finding(BaseModel):
    """One thing the policy does not allow, where the scan first saw it."""

    model_config = ConfigDict(frozen=True, populate_by_name=True)

    kind: FindingKind
    name: str = Field(description="The cookie or storage key; the button looked for (no_banner).")
    store: Store | None = Field(description="Where it was found; None for no_banner.")
    category: CookieCategory | None = Field(description="Its declared category, if declared.")
    pass_: Pass = Field(alias="pass")
    page: str


class ScanReport(BaseModel):
    """The outcome of a scan: the pages, which passes found a banner, and the findings."""

    urls: list[str]
    banner: dict[Pass, bool] = Field(
        description="For the rejected and accepted passes: whether the banner's button appeared."
    )
    findings: list[Finding]

    @property
    def ok(self) -> bool:
        """Tell whether the scan found nothing wrong."""
        return not self.findings


@dataclass(frozen=True)
class Item:
    """A cookie or storage key seen in a pass, attributed to the page after which it appeared."""

    name: str
    store: Store
    page: str
    http_only: bool = False


@dataclass
class Observation:
    """Everything one pass saw, in the order it appeared; ``banner`` is None in the first pass."""

    pass_: Pass
    items: list[Item] = field(default_factory=list)
    banner: bool | None = None


class ScanError(Exception):
    """The scan could not run as asked (a usage error: exit 2)."""


class Unreachable(ScanError):
    """A page could not be loaded."""

    def __init__(self, url: str, reason: str) -> None:
        super().__init__(f"cannot load {url}: {reason}")
        self.url = url
        self.reason = reason


def refusable(policy: Policy) -> bool:
    """Tell whether the policy declares cookies a visitor may refuse (so a banner is needed)."""
    return policy.cookie_rules.can_refuse and any(
        c.category not in (None, NECESSARY) for c in policy.cookies
    )


def judge(policy: Policy, urls: Sequence[str], observations: Iterable[Observation]) -> ScanReport:
    """Judge what the passes saw against the policy: each problem once, where first seen."""
    findings: list[Finding] = []
    reported: set[tuple[FindingKind, str, Store | None]] = set()
    banner: dict[Pass, bool] = {}

    def add(kind: FindingKind, item: Item, obs: Observation, cat: CookieCategory | None) -> None:
        key = (kind, item.name, item.store)
        if key not in reported:
            reported.add(key)
            findings.append(
                Finding(
                    kind=kind,
                    name=item.name,
                    store=item.store,
                    category=cat,
                    pass_=obs.pass_,
                    page=item.page,
                )
            )

    for obs in observations:
        if obs.banner is not None:
            banner[obs.pass_] = obs.banner
        if obs.banner is False and refusable(policy):
            findings.append(
                Finding(
                    kind=FindingKind.no_banner,
                    name=BUTTON.format(choice=obs.pass_.choice),
                    store=None,
                    category=None,
                    pass_=obs.pass_,
                    page=urls[0],
                )
            )
        for item in obs.items:
            cookie = declared(policy, item.name)
            if cookie is None:
                add(FindingKind.undeclared, item, obs, None)
            elif cookie.category is not NECESSARY:
                if obs.pass_ is Pass.before:
                    add(FindingKind.before_consent, item, obs, cookie.category)
                elif obs.pass_ is Pass.rejected and obs.banner:
                    add(FindingKind.after_rejection, item, obs, cookie.category)
    return ScanReport(urls=list(urls), banner=banner, findings=findings)


def check_urls(urls: Sequence[str]) -> None:
    """Refuse an empty list or a URL that is not http(s) with a host."""
    if not urls:
        raise ScanError("give at least one URL to scan")
    for url in urls:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ScanError(f"{url} is not an http:// or https:// URL")


def scan(
    policy: Policy,
    urls: Sequence[str],
    *,
    chromium: Path = CHROMIUM,
    wait_ms: int = WAIT_MS,
) -> ScanReport:
    """Scan the pages in three passes in headless Chromium and judge them against the policy.

    Raises :class:`ScanError` (or :class:`Unreachable`) when the scan cannot run, and
    :class:`ImportError` when Playwright is not installed.
    """
    check_urls(urls)
    if not chromium.exists():
        raise ScanError(f"Chromium not found at {chromium} (give its path with --chromium)")
    from playwright.sync_api import Error, sync_playwright

    observations = []
    with sync_playwright() as p:
        try:
            browser = p.chromium.launch(executable_path=str(chromium), args=list(CHROMIUM_ARGS))
        except Error as exc:
            raise ScanError(f"cannot start Chromium at {chromium}: {_first_line(exc)}") from None
        try:
            for pass_ in Pass:
                context = browser.new_context()
                try:
                    observations.append(
                        _run_pass(context, pass_, urls, wait_ms, policy.cookie_rules.consent_cookie)
                    )
                finally:
                    context.close()
        finally:
            browser.close()
    return judge(policy, urls, observations)


def _run_pass(
    context: BrowserContext,
    pass_: Pass,
    urls: Sequence[str],
    wait_ms: int,
    consent_cookie: str | None,
) -> Observation:
    obs = Observation(pass_)
    seen: set[tuple[str, Store]] = set()
    page = context.new_page()
    if pass_.choice is not None:
        _visit(page, urls[0], wait_ms)
        obs.banner = _click(page, pass_.choice, wait_ms)
        if not obs.banner:
            # Without a banner this pass would repeat the first one.
            return obs
        _await_choice(context, consent_cookie)
        _settle(page, wait_ms)
        _collect(context, page, urls[0], obs, seen)
    for url in urls:
        _visit(page, url, wait_ms)
        _collect(context, page, url, obs, seen)
    return obs


def _visit(page: Page, url: str, wait_ms: int) -> None:
    from playwright.sync_api import Error

    try:
        response = page.goto(url, wait_until="load", timeout=max(wait_ms, 1000) * 5)
    except Error as exc:
        raise Unreachable(url, _first_line(exc)) from None
    if response is not None and response.status >= 400:
        raise Unreachable(url, f"it answered HTTP {response.status}")
    _settle(page, wait_ms)


def _settle(page: Page, wait_ms: int) -> None:
    """Give the page's scripts time to store things: until the network is quiet, or wait_ms."""
    from playwright.sync_api import Error

    # A page that keeps polling is judged on what it stored so far.
    with contextlib.suppress(Error):
        page.wait_for_load_state("networkidle", timeout=max(wait_ms, 1))


def _await_choice(context: BrowserContext, consent_cookie: str | None) -> None:
    """Wait until the banner has stored the choice (its consent cookie), at most CLICK_MS.

    Reading cookies before the banner's answer came back would judge the page before the choice
    took effect; a banner that never stores it is judged as it is once the time is up.
    """
    if consent_cookie is None:
        return
    deadline = time.monotonic() + CLICK_MS / 1000
    while time.monotonic() < deadline:
        if any(c["name"] == consent_cookie for c in context.cookies()):
            return
        time.sleep(0.05)


def _click(page: Page, choice: str, wait_ms: int) -> bool:
    from playwright.sync_api import Error

    selector = BUTTON.format(choice=choice)
    button = page.locator(selector).first
    try:
        button.wait_for(state="visible", timeout=max(wait_ms, 1))
    except Error:
        return False
    # The banner is there: the click itself (waiting for the button to be stable and enabled)
    # gets a generous timeout of its own, so a slow first frame is not taken for no banner.
    try:
        button.click(timeout=CLICK_MS)
    except Error as exc:
        raise ScanError(f"cannot click {selector} on {page.url}: {_first_line(exc)}") from None
    return True


def _collect(
    context: BrowserContext, page: Page, url: str, obs: Observation, seen: set[tuple[str, Store]]
) -> None:
    found = [Item(c["name"], Store.cookie, url, bool(c.get("httpOnly"))) for c in context.cookies()]
    for store in (Store.local_storage, Store.session_storage):
        found.extend(Item(key, store, url) for key in _storage_keys(page, store))
    for item in found:
        if (item.name, item.store) not in seen:
            seen.add((item.name, item.store))
            obs.items.append(item)


def _storage_keys(page: Page, store: Store) -> list[str]:
    from playwright.sync_api import Error

    try:
        keys = page.evaluate(f"Object.keys(window.{store.value})")
    except Error:
        return []  # storage denied to this origin: nothing stored there
    return [str(k) for k in keys] if isinstance(keys, list) else []


def _first_line(exc: Exception) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__

"""Reduce a user-agent string to browser, OS and device class, or recognise a bot.

Only the three families are kept; the string itself never reaches the database. Parsing is
cached (:func:`classify`, at most 10,000 strings, in this process's memory only): a site's
visitors share a few hundred distinct user agents, and the answer depends on the string alone,
so a cached answer is always the one parsing would give.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

from ua_parser import parse

DESKTOP = "desktop"
MOBILE = "mobile"
TABLET = "tablet"

# Crawlers, monitors, previews, HTTP libraries and automated browsers. ua-parser names most
# crawlers (device "Spider"); these catch the rest.
BOT_MARKERS = re.compile(
    r"(?<!cu)bot\b|bot/|crawl|spider|slurp|scrap|headless|phantomjs|puppeteer|playwright|selenium"
    r"|lighthouse|pagespeed|gtmetrix|pingdom|uptime|monitor|preview|facebookexternalhit"
    r"|embedly|quora link|whatsapp|curl/|wget/|httpie|python-|aiohttp|httpx|okhttp|go-http"
    r"|java/|libwww|node-fetch|axios|undici|postman|insomnia|^mozilla/\d\.\d$",
    re.IGNORECASE,
)
MAX_LENGTH = 512


@dataclass(frozen=True, slots=True)
class Agent:
    """What is kept of a user agent."""

    browser: str | None
    os: str | None
    device: str


@lru_cache(maxsize=10_000)
def classify(user_agent: str) -> Agent | None:
    """Return the browser, OS and device class of ``user_agent``, or None for a bot."""
    ua = user_agent.strip()
    if not ua or len(ua) > MAX_LENGTH or BOT_MARKERS.search(ua):
        return None
    result = parse(ua)
    device = result.device
    if device is not None and device.family == "Spider":
        return None
    browser = result.user_agent.family if result.user_agent else None
    os = result.os.family if result.os else None
    if browser in (None, "Other") and os in (None, "Other"):
        # Not a browser anyone recognises: a script, not a visitor.
        return None
    family, brand = (device.family, device.brand) if device is not None else (None, None)
    return Agent(browser=_clip(browser), os=_clip(os), device=_device_class(ua, family, brand))


def _device_class(ua: str, family: str | None, brand: str | None) -> str:
    names = f"{family or ''} {brand or ''}"
    if "Tablet" in names or "iPad" in names or "Kindle" in names:
        return TABLET
    if "iPad" in ua or "Tablet" in ua or ("Android" in ua and "Mobile" not in ua):
        return TABLET
    if "Mobi" in ua or "iPhone" in ua or "Android" in ua:
        return MOBILE
    return DESKTOP


def _clip(name: str | None) -> str | None:
    if name is None or name == "Other":
        return None
    return name[:60]


def warm_up() -> None:
    """Load the parser's rules now, not on the first visitor's request."""
    classify("Mozilla/5.0 (X11; Linux x86_64; rv:128.0) Gecko/20100101 Firefox/128.0")

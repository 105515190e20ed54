"""The consent cookie and the cookie declaration: one place for both, read by every part.

The banner (``/c.js``) writes the consent cookie in the site's pages; the server-side middleware
(:mod:`avowal.integrations`) reads it to decide which ``Set-Cookie`` headers may pass; the
scanner reads the declaration to judge what it finds. The value's format is versioned:

    v1.<consent id>.<banner version>.<granted categories, joined by "-", or "none">[.p]

e.g. ``v1.3f9c…e1.a1b2c3d4e5f6.analytics-performance``. Strictly necessary cookies are always
allowed and never listed. A trailing ``.p`` marks a choice made while the server could not be
reached: the banner keeps it under a local id and sends it on the next page. The JavaScript
side mirrors :func:`format_value` and :func:`parse_value` (``src/avowal/consent/static/banner.js``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import cache

from avowal.policy.schemas import Cookie, CookieCategory, Policy

FORMAT = "v1"
PENDING = "p"
NECESSARY = CookieCategory.strictly_necessary
# Categories a visitor chooses, in the order the banner shows them.
CHOOSABLE = tuple(c for c in CookieCategory if c is not NECESSARY)
# Global Privacy Control turns these off without asking.
GPC_OFF = frozenset({CookieCategory.advertising})
CONSENT_ID = re.compile(r"^[0-9a-f]{32}$")
VERSION = re.compile(r"^[0-9a-f]{12}$")


@dataclass(frozen=True)
class ConsentValue:
    """What a consent cookie says: whose choice, under which banner, and what was granted."""

    consent_id: str
    version: str
    granted: frozenset[CookieCategory]

    def allows(self, category: CookieCategory | None) -> bool:
        """Tell whether a cookie of ``category`` may be set (strictly necessary always may)."""
        return category is NECESSARY or (category is not None and category in self.granted)


def format_value(consent_id: str, version: str, granted: frozenset[CookieCategory]) -> str:
    """Write the consent cookie's value."""
    chosen = [c.value for c in CHOOSABLE if c in granted]
    return f"{FORMAT}.{consent_id}.{version}.{'-'.join(chosen) or 'none'}"


def parse_value(value: str | None) -> ConsentValue | None:
    """Read a consent cookie's value; anything malformed reads as no choice made (None)."""
    if not value:
        return None
    parts = value.strip().strip('"').split(".")
    # A fifth part "p" marks a choice the banner could not record yet (it sends it again).
    if len(parts) == 5 and parts[4] == PENDING:
        parts = parts[:4]
    if len(parts) != 4 or parts[0] != FORMAT:
        return None
    _, consent_id, version, listed = parts
    if not CONSENT_ID.match(consent_id) or not VERSION.match(version):
        return None
    granted: set[CookieCategory] = set()
    if listed != "none":
        for name in listed.split("-"):
            try:
                category = CookieCategory(name)
            except ValueError:
                return None
            if category is not NECESSARY:
                granted.add(category)
    return ConsentValue(consent_id, version, frozenset(granted))


@cache
def _pattern(name: str) -> re.Pattern[str]:
    return re.compile("^" + ".*".join(re.escape(part) for part in name.split("*")) + "$")


def matches(declared: str, name: str) -> bool:
    """Tell whether a cookie ``name`` is the declared one (``*`` stands for any characters)."""
    return _pattern(declared).match(name) is not None


def declared(policy: Policy, name: str) -> Cookie | None:
    """Return the declaration of a cookie name: an exact name first, then the first pattern."""
    exact = next((c for c in policy.cookies if c.name == name), None)
    return exact or next((c for c in policy.cookies if matches(c.name, name)), None)

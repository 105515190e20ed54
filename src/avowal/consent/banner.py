"""The banner served as ``/c.js``: its script and styles, and the configuration it is handed.

The script is the banner colleague's ``static/banner.js`` wrapped as
``(function(C){ ... })(<config>);`` with ``static/banner.css`` as ``C.css``. The configuration
comes from the policy in effect: the categories with declared cookies, every string shown, and
the banner's version, a hash of what the visitor is shown (categories, cookies, texts, the
consent cookie). A choice made on another version is refused, so a changed declaration asks
again; an announced policy change (``C.change``) is shown without changing the version.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import html
import json
import re
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from importlib.resources import files
from urllib.parse import urlsplit

import rcssmin
import rjsmin
from sqlalchemy.orm import Session

from avowal.consent import texts
from avowal.consent.cookie import CHOOSABLE, NECESSARY
from avowal.consent.schemas import (
    BannerCategory,
    BannerChange,
    BannerConfig,
    BannerCookie,
    BannerTexts,
    ConsentCookieSettings,
)
from avowal.lib import clock
from avowal.lifecycle import notices
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import CookieCategory, Language, Policy
from avowal.settings import Settings

CACHE = "public, max-age=300"
MEDIA_TYPE = "application/javascript; charset=utf-8"
ORDER = (NECESSARY, *CHOOSABLE)
_LIFETIME = re.compile(r"^(\d+) (minute|hour|day|month|year)s?$")
# Days per unit; a month is a twelfth of a year, so "12 months" is 365 days.
_DAYS = {"minute": 1 / 1440, "hour": 1 / 24, "day": 1.0, "month": 365 / 12, "year": 365.0}


def _static(name: str) -> str:
    return files("avowal.consent").joinpath("static", name).read_text(encoding="utf-8")


# Served minified (rjsmin, rcssmin: the code as written, without comments and spaces).
BANNER_JS = rjsmin.jsmin(_static("banner.js"))
BANNER_CSS = rcssmin.cssmin(_static("banner.css"))
# The inline loader (docs/consent.md): the same code for every site, so one CSP hash for all. On
# one line, to copy: each line break rjsmin keeps follows a block's closing brace.
LOADER_JS = rjsmin.jsmin(_static("loader.js")).strip().replace("\n", "")
LOADER_CSP = f"'sha256-{base64.b64encode(hashlib.sha256(LOADER_JS.encode()).digest()).decode()}'"
# The banner adds its styles as a <style> element: a page whose Content-Security-Policy allows
# no inline style allows these by their hash.
STYLE_CSP = f"'sha256-{base64.b64encode(hashlib.sha256(BANNER_CSS.encode()).digest()).decode()}'"


def loader_tag(public_url: str) -> str:
    """Return the inline tag that loads ``/c.js`` once the page has shown its largest paint."""
    return f'<script data-avowal="{html.escape(public_url.rstrip("/"))}">{LOADER_JS}</script>'


def async_tag(public_url: str) -> str:
    """Return the plain tag: ``/c.js`` fetched while the page loads (no inline script)."""
    return f'<script async src="{html.escape(public_url.rstrip("/"))}/c.js"></script>'


def lifetime_days(lifetime: str) -> int | None:
    """Return a declared lifetime in whole days (at least one); None for a session cookie."""
    found = _LIFETIME.match(lifetime)
    if found is None:
        return None
    return max(1, round(int(found.group(1)) * _DAYS[found.group(2)]))


def categories(policy: Policy) -> list[BannerCategory]:
    """Return the categories that have declared cookies: strictly necessary first."""
    shown = []
    for category in ORDER:
        cookies = [
            BannerCookie(
                name=c.name,
                provider=c.provider,
                lifetime=c.lifetime,
                description=c.description,
                domain=c.domain,
                path=c.path,
            )
            for c in policy.cookies
            if c.category is category
        ]
        if cookies:
            shown.append(
                BannerCategory(key=category.value, required=category is NECESSARY, cookies=cookies)
            )
    return shown


def offered(policy: Policy) -> list[CookieCategory]:
    """Return the categories a visitor chooses in the banner, in its order."""
    return [CookieCategory(c.key) for c in categories(policy) if not c.required]


def consent_cookie(policy: Policy) -> ConsentCookieSettings:
    """Return where the consent cookie is kept, from its declaration."""
    name = policy.cookie_rules.consent_cookie
    declared = next((c for c in policy.cookies if c.name == name), None)
    return ConsentCookieSettings(
        name=name,
        days=lifetime_days(declared.lifetime) if declared else None,
        path=declared.path if declared else "/",
        domain=declared.domain if declared else None,
    )


@dataclass(frozen=True)
class Fixed:
    """What the banner shows for one policy version: everything but the announced change."""

    version: str
    categories: list[BannerCategory]
    texts: dict[str, BannerTexts]
    cookie: ConsentCookieSettings


_FIXED: dict[str, Fixed] = {}


def fixed(loaded: LoadedPolicy) -> Fixed:
    """Return what the banner shows under ``loaded``, and its version (computed once each)."""
    found = _FIXED.get(loaded.version_id)
    if found is not None:
        return found
    policy = loaded.policy
    shown = categories(policy)
    keys = [CookieCategory(c.key) for c in shown]
    consequence = policy.cookie_rules.refusal_consequence
    words = {lang.value: texts.texts(lang, keys, consequence) for lang in Language}
    cookie = consent_cookie(policy)
    canonical = json.dumps(
        {
            "categories": [c.model_dump(mode="json") for c in shown],
            "cookie": cookie.model_dump(mode="json"),
            "texts": {k: t.model_dump(mode="json") for k, t in words.items()},
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=False,
    )
    version = hashlib.sha256(canonical.encode()).hexdigest()[:12]
    found = Fixed(version, shown, words, cookie)
    if len(_FIXED) > 32:
        _FIXED.clear()
    _FIXED[loaded.version_id] = found
    return found


def version(loaded: LoadedPolicy) -> str:
    """Return the current banner version under ``loaded``."""
    return fixed(loaded).version


def upcoming(session: Session, settings: Settings) -> BannerChange | None:
    """Return the next announced policy version, as the banner tells it; None if none."""
    announced = notices.upcoming_changes(session, settings, clock.now()).upcoming
    if not announced:
        return None
    nxt = announced[0]
    return BannerChange(
        effective=nxt.effective, url=nxt.diff_url, material=nxt.material, summary=nxt.summary
    )


def config(loaded: LoadedPolicy, settings: Settings, change: BannerChange | None) -> BannerConfig:
    """Return the configuration handed to the banner script."""
    shown = fixed(loaded)
    base = settings.public_url.rstrip("/")
    rules = loaded.policy.cookie_rules
    return BannerConfig(
        version=shown.version,
        endpoint=f"{base}/v1/consents/cookies",
        privacy_url=f"{base}/privacy",
        cookie=shown.cookie,
        gpc=rules.honour_global_privacy_control,
        consent_mode=rules.google_consent_mode,
        choice=rules.can_refuse
        and rules.consent_cookie is not None
        and any(not c.required for c in shown.categories),
        categories=shown.categories,
        texts=shown.texts,
        default_language=loaded.policy.policy.language.value,
        change=change,
    )


@dataclass(frozen=True)
class Script:
    """The banner script as served, and its entity tag."""

    body: bytes
    etag: str

    @cached_property
    def gzipped(self) -> bytes:
        """Return the body compressed for clients that accept gzip (most of them)."""
        return gzip.compress(self.body, compresslevel=9, mtime=0)


def script(conf: BannerConfig) -> Script:
    """Wrap the banner script around its configuration, the styles included as ``C.css``."""
    data = {**conf.model_dump(mode="json"), "css": BANNER_CSS}
    # ASCII only (no U+2028 surprises), and no "<" that could close a <script> if inlined.
    literal = (
        json.dumps(data, separators=(",", ":"), ensure_ascii=False)
        .replace("<", "\\u003c")
        .replace("\u2028", "\\u2028")
        .replace("\u2029", "\\u2029")
    )
    body = f"(function(C){{{BANNER_JS}\n}})({literal});\n".encode()
    return Script(body, f'"{hashlib.sha256(body).hexdigest()[:16]}"')


def own_origin(settings: Settings) -> str:
    """Return the origin of the public URL."""
    public = urlsplit(settings.public_url)
    return f"{public.scheme}://{public.netloc}"


class ScriptCache:
    """Keep the served script a few seconds per policy version: /c.js is on every page view.

    Building it reads the announced change from the database and serialises the configuration;
    a visitor's page waits for it, so a busy site answers from memory (and its gzip, computed
    once). A change announced meanwhile shows at most ``seconds`` later (the server's
    ``policy_refresh_seconds``, the same delay as for a newly published version).
    """

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._kept: dict[str, tuple[float, Script]] = {}

    def get(self, version_id: str, build: Callable[[], Script]) -> Script:
        """Return the script for a policy version, building it when missing or too old."""
        now = time.monotonic()
        kept = self._kept.get(version_id)
        if kept is not None and now - kept[0] < self.seconds:
            return kept[1]
        script = build()
        self._kept = {version_id: (now, script)}  # one version is served at a time
        return script

"""Take identifiers out of paths, query strings, referrers and props before anything is kept.

Each value that looks like an e-mail address, a phone number, a payment card number, a UUID or
a long token is replaced by a placeholder (``:email``, ``:phone``, ``:card``, ``:id``,
``:token``) and counted, so the operator can see how often their site leaks identifiers into
URLs without the identifiers themselves ever being stored.

Text beyond ASCII is NFKC-normalised first (an address in full-width letters reads as
``josé@example.com``) and its decimal digits of every script read as ASCII digits (a number in
Arabic-Indic digits is a phone number like ``0555...``). E-mail addresses may have letters of any
script, and ``(at)``, ``[at]``, ``{at}`` and ``(dot)`` spellings. Text in which nothing is found
is kept as written; where an identifier is replaced, the rest of the text is kept normalised.

Texts in which nothing was found, numbers apart, are remembered (a bounded set of at most
:data:`CLEAN_TEXTS` texts of at most :data:`CLEAN_TEXT_LENGTH` characters each, the oldest
dropped first), since a site's pages, prop values and campaign names repeat: such a text is
kept as written, so the next time it is returned at once. Only texts without an identifier are
remembered, and they are exactly what is stored, so the cache holds nothing that the database
does not. Referrers that are an origin only (what browsers send by default across sites) and
the source names of domains are cached likewise.
"""

from __future__ import annotations

import contextlib
import functools
import re
import unicodedata
from collections import Counter, OrderedDict
from collections.abc import Iterable
from fnmatch import fnmatchcase
from itertools import pairwise
from typing import Any
from urllib.parse import parse_qsl, unquote, urlsplit

from avowal.lib import text as texts

_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_UNWANTED = re.compile(f"[\x00-\x1f\x7f{texts.UNSTORABLE}]")


def clean(value: str) -> str:
    """Remove control characters (none belongs in a label) and replace unstorable ones by U+FFFD."""
    if value.isascii():  # the hot path: only control characters to look for
        # In ASCII, the characters that are not printable are exactly the control characters.
        return value if value.isprintable() else _CONTROL.sub("", value)
    if _UNWANTED.search(value) is None:
        return value
    return texts.clean(_CONTROL.sub("", value))


EMAIL = "email"
PHONE = "phone"
CARD = "card"
ID = "id"
TOKEN = "token"
KINDS = (EMAIL, PHONE, CARD, ID, TOKEN)

# One alternation, tried left to right at each position: the first kind that matches wins, so
# an e-mail is never half-eaten as a token and a card number never read as a phone number.
# An e-mail's "@" and "." also as the spellings people use to hide them from harvesters. The
# local part starts a word and is never given back (it cannot hold "@", "(" or a space): one try
# per word, not one per character.
_AT = r"(?:@|\s*[(\[{<]\s*(?i:at)\s*[)\]}>]\s*)"
_DOT = r"(?:\.|\s*[(\[{<]\s*(?i:dot)\s*[)\]}>]\s*)"
_PATTERN = re.compile(
    rf"(?P<email>(?<![\w.%+-])[\w.%+-]++{_AT}[\w-]+(?:{_DOT}[\w-]+)*{_DOT}[^\W\d_]{{2,}})"
    r"|(?P<id>(?<![A-Za-z0-9])[0-9A-Fa-f]{8}-(?:[0-9A-Fa-f]{4}-){3}[0-9A-Fa-f]{12}(?![A-Za-z0-9]))"
    r"|(?P<digits>(?<![\w+])(?:\+|\(\+?)?\d[\d ().-]{4,}\d\)?(?!\w))"
    r"|(?P<word>(?<![A-Za-z0-9_-])[A-Za-z0-9_-]{16,}(?![A-Za-z0-9_-]))"
)
# The same without long words: what is looked for inside a long word that is not a token.
_INNER = re.compile(_PATTERN.pattern.rsplit("|(?P<word>", 1)[0])
_DATE = re.compile(
    r"^(?:\d{4}[-./]\d{1,2}[-./]\d{1,2}|\d{1,2}[-./]\d{1,2}[-./]\d{2,4})(?:[ T]\d{1,2})?$"
)
_IPV4 = re.compile(r"^\d{1,3}(?:\.\d{1,3}){3}$")
_AMOUNT = re.compile(r"^\d{1,12}\.\d{1,2}$")
_VERSION = re.compile(r"^\d{1,4}(?:\.\d{1,4}){2,3}$")
_HEX = re.compile(r"^[0-9A-Fa-f]{16,}$")


def _ascii_digit(match: re.Match[str]) -> str:
    return str(unicodedata.decimal(match.group()))


# A decimal digit of any script but ASCII's.
_OTHER_DIGIT = re.compile(r"(?![0-9])\d")


def normalise(text: str) -> str:
    """Return ``text`` NFKC-normalised with every decimal digit as an ASCII digit (ASCII as is)."""
    if text.isascii():
        return text
    return _OTHER_DIGIT.sub(_ascii_digit, unicodedata.normalize("NFKC", text))


def luhn(digits: str) -> bool:
    """Say whether a digit string passes the Luhn check of payment card numbers."""
    # From the right, every second digit is doubled and the digits of the double are added.
    values = [ord(ch) - 48 for ch in reversed(digits)]
    doubled = [sum(divmod(2 * d, 10)) for d in values[1::2]]
    return (sum(values[::2]) + sum(doubled)) % 10 == 0


def _digits_kind(text: str) -> str | None:
    digits = text if text.isdigit() else "".join(ch for ch in text if ch.isdigit())
    if 13 <= len(digits) <= 19 and luhn(digits):
        return CARD
    if len(digits) > 15:
        return TOKEN
    if _IPV4.match(text):
        return ID
    if _DATE.match(text) or _AMOUNT.match(text) or _VERSION.match(text):
        return None
    separated = not text.isdigit()
    # A bare run of digits is a phone number from 9 digits on (shorter ones are counts, years,
    # product numbers); written with a + or separators, from 7 (e.g. 555-0123).
    if len(digits) >= (7 if separated else 9):
        return PHONE
    return None


def _transitions(text: str) -> int:
    # How often a letter is next to a digit.
    return sum(
        1
        for a, b in pairwise(text)
        if (a.isdigit() and b.isalpha()) or (a.isalpha() and b.isdigit())
    )


def _word_kind(text: str) -> str | None:
    if text.isdigit():
        return _digits_kind(text)
    if _HEX.match(text) and any(c.isdigit() for c in text) and any(c.isalpha() for c in text):
        return TOKEN
    if len(text) < 20:
        return None
    # Slugs ("how-to-use-python-3") keep letters and digits in separate words; tokens mix them.
    if _transitions(text) >= 3:
        return TOKEN
    return None


# Texts in which nothing was found (kept as written), oldest first; see the module's notes.
CLEAN_TEXTS = 8192
CLEAN_TEXT_LENGTH = 256
_clean: OrderedDict[str, None] = OrderedDict()


def remember(cache: OrderedDict[Any, Any], key: Any, value: Any, limit: int) -> None:
    """Add ``key`` to a bounded cache, dropping its oldest entry when it is full."""
    # An OrderedDict drops its oldest entry at once; a dict would be scanned from its start,
    # past every entry already dropped.
    if len(cache) >= limit:
        with contextlib.suppress(KeyError):
            cache.popitem(last=False)
    cache[key] = value


def scrub_text(text: str, counts: Counter[str]) -> str:
    """Return ``text`` with identifiers replaced by placeholders, counting each kind."""
    if len(text) < 6 and text.isascii():
        return text
    if text in _clean:
        return text
    before = sum(counts.values())
    scrubbed = _scrub(text, counts)
    clean = scrubbed == text and sum(counts.values()) == before
    # Numbers are mostly one-off (ids, counters) and quickly checked again: not remembered.
    if clean and len(text) <= CLEAN_TEXT_LENGTH and not text.isdigit():
        remember(_clean, text, None, CLEAN_TEXTS)
    return scrubbed


def _scrub(text: str, counts: Counter[str]) -> str:
    if text.isascii() and text.isdigit():
        # A number (an id, a count...): the whole of it is what the pattern below would match.
        kind = _digits_kind(text)
        if kind is None:
            return text
        counts[kind] += 1
        return f":{kind}"
    plain = normalise(text)
    if len(plain) < 6:  # checked after NFKC: "a@b.\u33c4" normalises to an e-mail address
        return text

    def replace(match: re.Match[str]) -> str:
        group = match.lastgroup
        value = match.group()
        if group == EMAIL:
            kind: str | None = EMAIL
        elif group == ID:
            kind = ID
        elif group == "digits":
            # The match starts with a digit, "+" or "(" and ends with a digit or ")".
            kind = _digits_kind(value)
        else:
            kind = _word_kind(value)
            if kind is None:
                # A slug may still hold a phone number or an e-mail address.
                return _INNER.sub(replace, value)
        if kind is None:
            return value
        counts[kind] += 1
        return f":{kind}"

    if plain is text:  # ASCII, the usual case: nothing was normalised
        return _PATTERN.sub(replace, text)
    before = sum(counts.values())
    scrubbed = _PATTERN.sub(replace, plain)
    # Text without identifiers is kept as written; with one, the normalised text is kept.
    return scrubbed if sum(counts.values()) != before else text


def scrub_path(path: str, counts: Counter[str]) -> str:
    """Return a URL path, percent-decoded, with each segment scrubbed."""
    segments = path.split("/")
    return "/".join(scrub_text(unquote(segment), counts) for segment in segments)


def keep_params(query: str, keep: Iterable[str], counts: Counter[str]) -> list[tuple[str, str]]:
    """Return the query parameters named in ``keep`` (globs allowed), values scrubbed."""
    if not query:
        return []
    patterns = tuple(keep)
    return [
        (name, scrub_text(value, counts))
        for name, value in parse_qsl(query, keep_blank_values=True)
        if any(fnmatchcase(name, pattern) for pattern in patterns)
    ]


def is_excluded(path: str, patterns: Iterable[str]) -> bool:
    """Say whether ``path`` matches one of the site's excluded path globs."""
    return any(fnmatchcase(path, pattern) for pattern in patterns)


# Referrer hosts (without "www.") by suffix, and the source name they are shown under.
SOURCES: dict[str, str] = {
    "google.com": "Google",
    "bing.com": "Bing",
    "duckduckgo.com": "DuckDuckGo",
    "search.yahoo.com": "Yahoo!",
    "yahoo.com": "Yahoo!",
    "yandex.ru": "Yandex",
    "yandex.com": "Yandex",
    "baidu.com": "Baidu",
    "ecosia.org": "Ecosia",
    "search.brave.com": "Brave",
    "startpage.com": "Startpage",
    "qwant.com": "Qwant",
    "kagi.com": "Kagi",
    "facebook.com": "Facebook",
    "fb.com": "Facebook",
    "instagram.com": "Instagram",
    "t.co": "Twitter",
    "twitter.com": "Twitter",
    "x.com": "Twitter",
    "linkedin.com": "LinkedIn",
    "lnkd.in": "LinkedIn",
    "github.com": "GitHub",
    "gitlab.com": "GitLab",
    "reddit.com": "Reddit",
    "news.ycombinator.com": "Hacker News",
    "youtube.com": "YouTube",
    "youtu.be": "YouTube",
    "pinterest.com": "Pinterest",
    "tiktok.com": "TikTok",
    "mastodon.social": "Mastodon",
    "bsky.app": "Bluesky",
    "stackoverflow.com": "Stack Overflow",
    "wikipedia.org": "Wikipedia",
    "chatgpt.com": "ChatGPT",
    "perplexity.ai": "Perplexity",
}
# A host name, and the same without the trailing dots of a fully qualified name.
_HOST = re.compile(r"^([a-z0-9._:-]*?)\.*$")
_GOOGLE = re.compile(r"^(?:[a-z0-9-]+\.)*google\.[a-z]{2,3}(?:\.[a-z]{2})?$")


# A referrer that is an origin only, "https://host/": nothing in it but the host.
_ORIGIN_ONLY = re.compile(r"https?://[a-z0-9.-]{1,253}/?")
ORIGINS = 4096
_origins: OrderedDict[str, str | None] = OrderedDict()


def referrer_domain(referrer: str | None) -> str | None:
    """Reduce a referrer URL to its host name, lower-case and without ``www.``; never the path."""
    if not referrer:
        return None
    if _ORIGIN_ONLY.fullmatch(referrer):
        # The usual referrer: remembered (it holds nothing but the domain that is stored).
        try:
            return _origins[referrer]
        except KeyError:
            domain = _referrer_domain(referrer)
            remember(_origins, referrer, domain, ORIGINS)
            return domain
    return _referrer_domain(referrer)


def _referrer_domain(referrer: str) -> str | None:
    try:
        host = urlsplit(referrer.strip()).hostname
    except ValueError:
        return None
    found = _HOST.match(host) if host and len(host) <= 253 else None
    if found is None:
        return None
    host = found[1]
    return host[4:] if host.startswith("www.") else host or None


@functools.lru_cache(maxsize=4096)
def source_name(domain: str | None) -> str | None:
    """Name the source of a referrer domain (Google, Reddit, ...), or the domain itself."""
    if domain is None:
        return None
    if _GOOGLE.match(domain):
        return "Google"
    # The domain, then each parent domain: "old.reddit.com", "reddit.com", "com".
    labels = domain.split(".")
    for suffix in (".".join(labels[i:]) for i in range(len(labels))):
        if suffix in SOURCES:
            return SOURCES[suffix]
    return domain

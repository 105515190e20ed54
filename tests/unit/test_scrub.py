"""Identifiers are taken out of paths, query strings, referrers and props, and counted."""

from __future__ import annotations

import json
from collections import Counter
from urllib.parse import quote

import pytest

from avowal.analytics import ingest, scrub, useragent

CASES = [
    # e-mail addresses, also percent-encoded in a path
    ("/u/ada@example.com", "/u/:email", {"email": 1}),
    ("/u/ada%40example.com/settings", "/u/:email/settings", {"email": 1}),
    ("/invite/grace.hopper+test@mail.example.com", "/invite/:email", {"email": 1}),
    # phone numbers: with separators from 7 digits, bare from 9
    ("/call/555-0123", "/call/:phone", {"phone": 1}),
    ("/call/+1%20(555)%20010-0199", "/call/:phone", {"phone": 1}),
    ("/sms/5550100199", "/sms/:phone", {"phone": 1}),
    ("/contact-me-now-at-555-0123-please", "/contact-me-now-at-:phone-please", {"phone": 1}),
    # card numbers (Luhn), with or without spaces
    ("/pay/4242424242424242", "/pay/:card", {"card": 1}),
    ("/pay/4242%204242%204242%204242", "/pay/:card", {"card": 1}),
    # UUIDs, long tokens, hex digests
    ("/orders/123e4567-e89b-12d3-a456-426614174000", "/orders/:id", {"id": 1}),
    ("/reset/aB3dE5fG7hJ9kL1mN3pQ7r", "/reset/:token", {"token": 1}),
    ("/verify/3f2a9c8b7e6d5c4b3a29", "/verify/:token", {"token": 1}),
    ("/t/eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.c2lnbmF0dXJl", None, None),
    # ordinary paths are left alone
    ("/blog/2024/05/12/how-to-use-python-3-with-django", None, {}),
    ("/products/12345", None, {}),
    ("/top10-tips-for-2024", None, {}),
    ("/docs/v1.2.3/install", None, {}),
    ("/", None, {}),
]


@pytest.mark.parametrize(("path", "expected", "counts"), CASES)
def test_paths(path: str, expected: str | None, counts: dict[str, int] | None) -> None:
    seen: Counter[str] = Counter()
    result = scrub.scrub_path(path, seen)
    if expected is not None:
        assert result == expected
    else:
        assert ":" not in path and "%" not in path
        if counts is None:  # a JWT: every part with letters and digits mixed goes
            assert "eyJ" not in result and seen["token"] >= 2
            return
        assert result == path
    assert dict(seen) == counts


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("ada@example.com", ":email"),
        ("call me on 555-0123 tomorrow", "call me on :phone tomorrow"),
        ("4242 4242 4242 4242", ":card"),
        ("4242 4242 4242 4241", ":phone"),  # not a card (Luhn), still 16 digits: never kept
        ("192.168.100.200", ":id"),
        ("pro", "pro"),
        ("2024-05-12", "2024-05-12"),
        ("2024-05-12 10:30", "2024-05-12 10:30"),
        ("1234567.89", "1234567.89"),
        ("12", "12"),
        ("true", "true"),
    ],
)
def test_prop_values(value: str, expected: str) -> None:
    result = scrub.scrub_text(value, Counter())
    if expected == ":phone":
        assert "4242" not in result
    else:
        assert result == expected


def test_luhn() -> None:
    assert scrub.luhn("4242424242424242")
    assert scrub.luhn("5555555555554444")
    assert not scrub.luhn("4242424242424241")


def test_query_string_keeps_only_the_configured_parameters_scrubbed() -> None:
    seen: Counter[str] = Counter()
    kept = scrub.keep_params(
        "utm_source=news&email=ada%40example.com&utm_campaign=ada%40example.com&page=2",
        ["utm_*", "page"],
        seen,
    )
    assert kept == [("utm_source", "news"), ("utm_campaign", ":email"), ("page", "2")]
    assert seen == {"email": 1}  # the dropped email= parameter is not even looked at
    assert scrub.keep_params("", ["utm_*"], seen) == []


@pytest.mark.parametrize(
    ("referrer", "domain", "source"),
    [
        ("https://www.google.com/search?q=ada%40example.com", "google.com", "Google"),
        ("https://www.google.co.uk/", "google.co.uk", "Google"),
        ("https://news.ycombinator.com/item?id=1", "news.ycombinator.com", "Hacker News"),
        ("https://l.facebook.com/l.php?u=x", "l.facebook.com", "Facebook"),
        ("https://t.co/abc", "t.co", "Twitter"),
        ("https://old.reddit.com/r/privacy/comments/x", "old.reddit.com", "Reddit"),
        ("https://duckduckgo.com/", "duckduckgo.com", "DuckDuckGo"),
        ("https://blog.example.org/users/ada@example.com/", "blog.example.org", "blog.example.org"),
        ("android-app://com.example.app/", "com.example.app", "com.example.app"),
        ("", None, None),
        (None, None, None),
        ("not a url", None, None),
    ],
)
def test_referrer_is_reduced_to_its_domain(
    referrer: str | None, domain: str | None, source: str | None
) -> None:
    assert scrub.referrer_domain(referrer) == domain
    assert scrub.source_name(domain) == source


def test_excluded_paths_use_globs() -> None:
    assert scrub.is_excluded("/admin/users", ["/admin/*"])
    assert scrub.is_excluded("/admin", ["/admin", "/private*"])
    assert not scrub.is_excluded("/pricing", ["/admin/*"])


CHROME = (
    "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0.0.0 Safari/537.36"
)
IPHONE = (
    "Mozilla/5.0 (iPhone; CPU iPhone OS 17_0 like Mac OS X) AppleWebKit/605.1.15 "
    "(KHTML, like Gecko) Version/17.0 Mobile/15E148 Safari/604.1"
)
IPAD = IPHONE.replace("iPhone; CPU iPhone OS", "iPad; CPU OS")
ANDROID_TABLET = (
    "Mozilla/5.0 (Linux; Android 14; SM-X710) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/120.0 Safari/537.36"
)


@pytest.mark.parametrize(
    ("ua", "browser", "os", "device"),
    [
        (CHROME, "Chrome", "Windows", "desktop"),
        (IPHONE, "Mobile Safari", "iOS", "mobile"),
        (IPAD, "Mobile Safari", "iOS", "tablet"),
        (ANDROID_TABLET, "Chrome", "Android", "tablet"),
    ],
)
def test_user_agents_are_reduced_to_families(ua: str, browser: str, os: str, device: str) -> None:
    assert useragent.classify(ua) == useragent.Agent(browser, os, device)


@pytest.mark.parametrize(
    "ua",
    [
        "",
        "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)",
        "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)",
        CHROME.replace("Chrome/", "HeadlessChrome/"),
        "curl/8.5.0",
        "python-requests/2.32.3",
        "python-httpx/0.28.1",
        "Go-http-client/1.1",
        "facebookexternalhit/1.1",
        "Mozilla/5.0",
        "testclient",
    ],
)
def test_bots_are_recognised(ua: str) -> None:
    assert useragent.classify(ua) is None


# --- beyond ASCII (issue 8, hole 13) -----------------------------------------------------------


def wide(text: str) -> str:
    """Return ``text`` in full-width forms (ASCII letters, digits and signs)."""
    return "".join(chr(ord(c) + 0xFEE0) if "!" <= c <= "~" else c for c in text)


def digits(text: str, zero: int) -> str:
    """Return ``text`` with its ASCII digits written in the script whose zero is ``zero``."""
    return "".join(chr(zero + int(c)) if c.isdigit() else c for c in text)


ARABIC_INDIC, PERSIAN, DEVANAGARI = 0x0660, 0x06F0, 0x0966


@pytest.mark.parametrize(
    ("value", "kind"),
    [
        ("jos\u00e9@example.com", "email"),
        (f"{wide('jos')}\u00e9@{wide('example')}.com", "email"),
        (wide("ada@example.com"), "email"),
        ("zo\u00eb.m\u00fcller@ex\u00e4mple.com", "email"),
        ("ada(at)example.com", "email"),
        ("ada (at) example (dot) com", "email"),
        ("ada [at] example [dot] com", "email"),
        ("ada[AT]example[DOT]com", "email"),
        ("ada{at}mail.example.com", "email"),
        (digits("05550100199", ARABIC_INDIC), "phone"),
        (digits("05550100199", PERSIAN), "phone"),
        (wide("0555-0123"), "phone"),
        ("+" + wide("1 555 010 0199"), "phone"),
        (digits("4242424242424242", DEVANAGARI), "card"),
    ],
)
def test_identifiers_beyond_ascii_are_scrubbed(value: str, kind: str) -> None:
    seen: Counter[str] = Counter()
    result = scrub.scrub_text(f"contact {value} today", seen)
    assert result == f"contact :{kind} today"
    assert seen == {kind: 1}


@pytest.mark.parametrize(
    ("path", "expected"),
    [
        ("/u/jos%C3%A9%40example.com", "/u/:email"),
        ("/u/%EF%BD%8A%EF%BD%8F%EF%BD%93%EF%BD%85@example.com/edit", "/u/:email/edit"),
        ("/call/" + quote(digits("05550100199", ARABIC_INDIC)), "/call/:phone"),
        ("/mail/ada(at)example.com", "/mail/:email"),
    ],
)
def test_paths_beyond_ascii_are_scrubbed(path: str, expected: str) -> None:
    assert scrub.scrub_path(path, Counter()) == expected


@pytest.mark.parametrize(
    "value",
    [
        "\u00fcber-uns",
        "\u65e5\u672c\u8a9e\u306e\u30da\u30fc\u30b8",
        "caf\u00e9",
        "look at this",
        "Preis 12,50 \u20ac",
        digits("3 items", ARABIC_INDIC),
        "a\u00f1o 2024",
    ],
)
def test_ordinary_text_beyond_ascii_is_kept_as_written(value: str) -> None:
    seen: Counter[str] = Counter()
    assert scrub.scrub_text(value, seen) == value
    assert not seen


def test_an_email_in_a_prop_key_is_scrubbed() -> None:
    seen: Counter[str] = Counter()
    props = ingest.props_of(
        {"ada@example.com": "subscribed", f"{wide('jos')}\u00e9@example.com": "yes", "plan": "pro"},
        seen,
    )
    assert props == {":email": "yes", "plan": "pro"}
    assert seen == {"email": 2}


def test_identifiers_in_props_sent_as_a_json_string_are_scrubbed() -> None:
    seen: Counter[str] = Counter()
    raw = json.dumps(
        {"contact": "jos\u00e9@example.com", "phone": digits("05550100199", ARABIC_INDIC)}
    )
    assert ingest.props_of(raw, seen) == {"contact": ":email", "phone": ":phone"}
    assert seen == {"email": 1, "phone": 1}


# --- the edges of each rule (kill the mutants `make mutate` found) ----------------------------


@pytest.mark.parametrize(
    ("number", "valid"),
    [
        ("4111111111111111", True),
        ("378282246310005", True),  # 15 digits: the first digit is not doubled
        ("6011111111111117", True),
        ("5105105105105100", True),
        ("4012888888881881", True),
        ("79927398713", True),  # every doubled digit from 1 to 9 once
        ("4111111111111112", False),
        ("79927398710", False),
        ("79927398717", False),
        ("378282246310006", False),
    ],
)
def test_luhn_doubles_every_second_digit_from_the_right(number: str, valid: bool) -> None:
    assert scrub.luhn(number) is valid


@pytest.mark.parametrize(
    ("value", "expected", "kind"),
    [
        ("4222222222222", ":card", "card"),  # 13 digits: the shortest card number
        ("4242424242424242006", ":card", "card"),  # 19 digits: the longest
        ("42424242424242420000", ":token", "token"),  # 20 digits pass Luhn, yet no card
        ("378282246310005", ":card", "card"),
        ("424242424242425", ":phone", "phone"),  # 15 digits, not Luhn: a phone number
        ("4242424242424241", ":token", "token"),  # 16 digits, not Luhn: too long for a phone
        ("5550100100", ":phone", "phone"),  # passes Luhn, but too short for a card
        ("555010019", ":phone", "phone"),  # a bare run of 9 digits is a phone number
        ("tel+4242424242424242", "tel+:card", "card"),  # digits read as a word after a "+"
    ],
)
def test_digit_runs_are_told_apart_by_length_and_luhn(value: str, expected: str, kind: str) -> None:
    seen: Counter[str] = Counter()
    assert scrub.scrub_text(value, seen) == expected
    assert seen == {kind: 1}


@pytest.mark.parametrize(
    "value",
    [
        "order 12345678",  # a bare run of 8 digits is a count or a product number
        "windows10professionaledition",  # a long word with two letter/digit changes: a slug
    ],
)
def test_what_is_not_an_identifier_is_kept(value: str) -> None:
    seen: Counter[str] = Counter()
    assert scrub.scrub_text(value, seen) == value
    assert not seen


def test_a_long_word_with_three_letter_digit_changes_is_a_token() -> None:
    seen: Counter[str] = Counter()
    assert scrub.scrub_text("/release2024candidate2build", seen) == "/:token"
    assert seen == {"token": 1}


def test_the_shortest_email_address_is_scrubbed() -> None:
    # Six characters (.zz is a user-assigned ISO code, never a real top-level domain).
    seen: Counter[str] = Counter()
    assert scrub.scrub_text("x@y.zz", seen) == ":email"
    assert seen == {"email": 1}


def test_a_short_text_that_normalises_to_an_email_address_is_scrubbed() -> None:
    # Five characters as written; "\u33c4" (SQUARE CC) reads "cc" once normalised.
    seen: Counter[str] = Counter()
    assert scrub.scrub_text("a@b.\u33c4", seen) == ":email"
    assert seen == {"email": 1}


def test_a_path_is_scrubbed_segment_by_segment_and_kept_as_written_elsewhere() -> None:
    seen: Counter[str] = Counter()
    # Arabic-Indic page number and a literal space stay as sent; only the address goes.
    assert scrub.scrub_path("/page/\u0663/ada@example.com", seen) == "/page/\u0663/:email"
    assert scrub.scrub_path("/my files/ada@example.com", seen) == "/my files/:email"
    assert seen == {"email": 2}


def test_kept_query_parameters_without_a_value_are_kept() -> None:
    seen: Counter[str] = Counter()
    kept = scrub.keep_params("utm_source=&page=2&utm_medium", ["utm_*", "page"], seen)
    assert kept == [("utm_source", ""), ("page", "2"), ("utm_medium", "")]


@pytest.mark.parametrize(
    ("referrer", "domain"),
    [
        ("https://www.example.com./pricing", "example.com"),  # a fully qualified name
        ("https://news.example.com../", "news.example.com"),
        ("https://exa mple.com/", None),
        ("https://<b>.example.com/", None),
        (
            "https://" + ".".join(["a" * 63] * 3 + ["b" * 61]) + "/",
            ".".join(["a" * 63] * 3 + ["b" * 61]),
        ),
        ("https://" + ".".join(["a" * 63] * 3 + ["b" * 62]) + "/", None),  # 254 characters
    ],
)
def test_a_referrer_host_is_a_host_name_of_at_most_253_characters(
    referrer: str, domain: str | None
) -> None:
    assert scrub.referrer_domain(referrer) == domain

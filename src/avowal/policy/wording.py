"""Plain-language wording for the coded values of a policy file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from avowal.policy.schemas import (
    CookieCategory,
    ParentalConsentMethod,
    RecipientKind,
    StaffKind,
    Storage,
)

STORAGE = {
    Storage.full: "kept as you give it",
    Storage.last4: "we keep only its last four characters",
    Storage.hash: "we keep only a keyed fingerprint of it, from which it cannot be read back",
    Storage.none: "used when you send it, then not kept",
}

RECIPIENT_KINDS = {
    RecipientKind.processor: "a service provider that handles the data on our behalf, only on our "
    "instructions, and may not use it for its own ends",
    RecipientKind.controller: "an organisation that decides for itself how it uses the data it "
    "receives, under its own privacy policy",
    RecipientKind.authority: "a public authority, such as law enforcement or a regulator",
    RecipientKind.buyer: "an organisation that buys the data from us",
    RecipientKind.partner: "an organisation we share the data with for its own purposes",
}

GROUNDS = {
    "comply_with_law": "to comply with applicable laws",
    "lawful_request": "to answer lawful requests from governmental authorities",
    "operate_systems": "to operate our systems properly",
    "protect_rights": "to protect our rights and property",
}

COOKIE_CATEGORIES = {
    CookieCategory.strictly_necessary: "Strictly necessary",
    CookieCategory.functional: "Functional",
    CookieCategory.analytics: "Analytics",
    CookieCategory.advertising: "Advertising",
    CookieCategory.performance: "Performance",
}

STAFF_KINDS = {
    StaffKind.employee: "employees",
    StaffKind.contractor: "contractors",
    StaffKind.agent: "agents",
}

CONSENT_METHODS = {
    ParentalConsentMethod.email_plus: "we send an e-mail to your parent or guardian, who confirms "
    "by answering it; a second message follows a little later so that they can still change "
    "their mind",
    ParentalConsentMethod.signed_form: "your parent or guardian signs a consent form and returns "
    "it to us",
}

AFTER = {
    "collection": "after we collect it",
    "last_activity": "after your last activity with us",
    "account_closure": "after your account is closed",
}

NOTIFY_BY = {
    "posting": "posting the new version on this page",
    "banner": "a notice on our website",
    "email": "e-mail to the people it affects",
}

COUNTRIES = {
    "AT": "Austria", "AU": "Australia", "BE": "Belgium", "BR": "Brazil", "CA": "Canada",
    "CH": "Switzerland", "CN": "China", "CZ": "Czechia", "DE": "Germany", "DK": "Denmark",
    "ES": "Spain", "FI": "Finland", "FR": "France", "GB": "the United Kingdom", "IE": "Ireland",
    "IL": "Israel", "IN": "India", "IS": "Iceland", "IT": "Italy", "JP": "Japan",
    "KR": "South Korea", "LU": "Luxembourg", "MX": "Mexico", "NL": "the Netherlands",
    "NO": "Norway", "NZ": "New Zealand", "PL": "Poland", "PT": "Portugal", "SE": "Sweden",
    "SG": "Singapore", "US": "the United States", "ZA": "South Africa",
}  # fmt: skip

_MONTHS = (
    "January", "February", "March", "April", "May", "June", "July", "August", "September",
    "October", "November", "December",
)  # fmt: skip


def country(code: str) -> str:
    """Name a country from its ISO 3166 two-letter code, or give the code when unknown."""
    return COUNTRIES.get(code, f"the country with code {code}")


def date(day: dt.date) -> str:
    """Write a date the same way whatever the server's locale, e.g. 23 February 2017."""
    return f"{day.day} {_MONTHS[day.month - 1]} {day.year}"


def days(n: int) -> str:
    """Write a number of days, e.g. 1 day, 30 days."""
    return f"{n} day" if n == 1 else f"{n} days"


def joined(items: Sequence[str], last: str = "and") -> str:
    """Join words as prose: a, b and c."""
    if not items:
        return ""
    if len(items) == 1:
        return items[0]
    return f"{', '.join(items[:-1])} {last} {items[-1]}"


def sentence(text: str) -> str:
    """Start with a capital and end with a full stop."""
    text = text.strip()
    if not text:
        return text
    text = text[0].upper() + text[1:]
    return text if text[-1] in ".!?" else text + "."


def lifetime(value: str) -> str:
    """Explain a cookie lifetime such as 'session' or '12 months'."""
    return "Until you close your browser" if value == "session" else value

"""Which ``Set-Cookie`` headers may pass: one rule for the ASGI and the WSGI middleware.

The visitor's choice is read from the request (the consent cookie named by
``cookie_rules.consent_cookie`` and the ``Sec-GPC`` header); each ``Set-Cookie`` header of the
response is then judged by :func:`allowed` on its cookie's declaration in the policy. Everything
here is pure: no I/O, no state, so both middlewares call the same functions.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from avowal.consent import cookie as consent_cookie
from avowal.consent.cookie import ConsentValue
from avowal.policy.schemas import Cookie, CookieCategory, Policy

# What a nameless Set-Cookie (``=value`` or ``value``, which browsers store under the empty
# name) is reported as; the policy cannot declare it, so it is always undeclared.
NAMELESS = "(nameless)"


class Reason(StrEnum):
    """Why a cookie may or may not be set: the closed set of outcomes of :func:`allowed`."""

    consent_cookie = "consent_cookie"
    strictly_necessary = "strictly_necessary"
    consented = "consented"
    cannot_refuse = "cannot_refuse"
    undeclared = "undeclared"
    not_consented = "not_consented"
    global_privacy_control = "global_privacy_control"


# The outcomes that let the header pass. Undeclared cookies pass: see :func:`allowed`.
_KEPT = frozenset(
    {
        Reason.consent_cookie,
        Reason.strictly_necessary,
        Reason.consented,
        Reason.cannot_refuse,
        Reason.undeclared,
    }
)


@dataclass(frozen=True)
class Decision:
    """The verdict on one cookie: why, and the declaration it was judged by (if any)."""

    reason: Reason
    declaration: Cookie | None = None

    @property
    def keep(self) -> bool:
        """Tell whether the ``Set-Cookie`` header may pass."""
        return self.reason in _KEPT

    @property
    def category(self) -> CookieCategory | None:
        """Return the declared category of the cookie, if it is declared."""
        return self.declaration.category if self.declaration is not None else None


@dataclass(frozen=True)
class Visitor:
    """What the request says about the visitor's choice."""

    consent: ConsentValue | None
    gpc: bool


def allowed(policy: Policy, consent: ConsentValue | None, gpc: bool, cookie_name: str) -> Decision:
    """Decide whether a cookie named ``cookie_name`` may be set for this visitor.

    Undeclared cookies are kept and reported rather than dropped: dropping a cookie the site
    relies on (a session, a CSRF token) could break the site in ways no one chose, whereas the
    operator fixes the real problem by declaring the cookie or removing it. The middleware's
    report and the scanner (``avowal cookies scan``) find them.
    """
    rules = policy.cookie_rules
    if rules.consent_cookie is not None and cookie_name == rules.consent_cookie:
        return Decision(Reason.consent_cookie, consent_cookie.declared(policy, cookie_name))
    declaration = consent_cookie.declared(policy, cookie_name)
    if declaration is None:
        return Decision(Reason.undeclared)
    category = declaration.category
    if category is consent_cookie.NECESSARY:
        return Decision(Reason.strictly_necessary, declaration)
    if gpc and rules.honour_global_privacy_control and category in consent_cookie.GPC_OFF:
        return Decision(Reason.global_privacy_control, declaration)
    if not rules.can_refuse:
        return Decision(Reason.cannot_refuse, declaration)
    if consent is not None and consent.allows(category):
        return Decision(Reason.consented, declaration)
    return Decision(Reason.not_consented, declaration)


def set_cookie_name(header_value: str) -> str:
    """Return the name of the cookie a ``Set-Cookie`` header value sets (RFC 6265, 5.2).

    The name is what precedes the first ``=`` of the part before the first ``;``, without
    surrounding whitespace; attributes (``HttpOnly``, ``Secure``, ``Expires=…, …``) never
    matter. A header without ``=`` in that part, or with nothing before it, sets a nameless
    cookie in today's browsers (RFC 6265bis) and is reported as :data:`NAMELESS`.
    """
    pair = header_value.split(";", 1)[0]
    if "=" not in pair:
        return NAMELESS
    name = pair.split("=", 1)[0].strip(" \t")
    return name or NAMELESS


def request_cookie(cookie_headers: list[str], name: str) -> str | None:
    """Return the value of the request cookie ``name``: the first one sent, as browsers put
    the most specific path first; ``None`` when it is not sent."""
    for header in cookie_headers:
        for pair in header.split(";"):
            key, sep, value = pair.partition("=")
            if sep and key.strip(" \t") == name:
                return value.strip(" \t")
    return None


def visitor(policy: Policy, cookie_headers: list[str], sec_gpc: str | None) -> Visitor:
    """Read the visitor's choice from the request's ``Cookie`` headers and ``Sec-GPC``.

    No consent cookie, or a malformed one, reads as no consent beyond strictly necessary.
    """
    name = policy.cookie_rules.consent_cookie
    value = request_cookie(cookie_headers, name) if name is not None else None
    gpc = sec_gpc is not None and sec_gpc.strip(" \t") == "1"
    return Visitor(consent_cookie.parse_value(value), gpc)

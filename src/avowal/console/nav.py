"""The console's navigation, declared once: each page, and the rule deciding who may use it.

An item's rule is the very rule its page's route checks (the routes call the functions here),
so the navigation shows a role exactly the pages it may use. Every rule but Home's applies to a
caller: a member who may not see personal data yet (not enrolled, or the confidentiality
agreement not acknowledged) has none and sees Home only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from avowal.callers.service import Caller
from avowal.console.deps import StaffContext
from avowal.mail import news
from avowal.policy.loader import LoadedPolicy
from avowal.policy.taxonomy import LEGAL_OBLIGATION

SUPPORT = "essential.service.operations.support"

Rule = Callable[[Caller, LoadedPolicy], bool]


def may_see_personal_data(caller: Caller, policy: LoadedPolicy) -> bool:
    """Tell whether a caller may use a page open to every member with access (``StaffAccess``)."""
    return True


def may_read_analytics(caller: Caller, policy: LoadedPolicy) -> bool:
    """Tell whether a caller grants the purpose analytics figures are read for."""
    return caller.grants(policy.policy.analytics.purpose)


def may_handle_legal(caller: Caller) -> bool:
    """Tell whether a caller handles legal requests: a privacy officer's work."""
    return caller.grants(LEGAL_OBLIGATION)


def may_review(caller: Caller) -> bool:
    """Tell whether a caller runs the internal review: a privacy officer's work."""
    return caller.grants(LEGAL_OBLIGATION)


def may_handle_cases(caller: Caller) -> bool:
    """Tell whether a caller handles people's requests: support, or a privacy officer."""
    return caller.grants(SUPPORT) or caller.grants(LEGAL_OBLIGATION)


def may_send_news(caller: Caller, policy: LoadedPolicy) -> bool:
    """Tell whether a caller may send a kind of message the policy declares (its purpose)."""
    return bool(news.kinds_for(policy, caller))


@dataclass(frozen=True)
class NavItem:
    """A page of the console: its key (the ``active`` one is marked), address, label and rule.

    ``rule`` None: every signed-in member may use the page.
    """

    key: str
    href: str
    label: str
    rule: Rule | None

    def shown_to(self, ctx: StaffContext, policy: LoadedPolicy) -> bool:
        """Tell whether the staff member may use this page under ``policy``."""
        if self.rule is None:
            return True
        return ctx.caller is not None and self.rule(ctx.caller, policy)


ITEMS: tuple[NavItem, ...] = (
    NavItem("home", "/console", "Home", None),
    NavItem("people", "/console/people", "People", may_see_personal_data),
    NavItem("cases", "/console/cases", "Requests", lambda c, _: may_handle_cases(c)),
    NavItem("news", "/console/news", "News", may_send_news),
    NavItem("analytics", "/console/analytics", "Analytics", may_read_analytics),
    NavItem("legal", "/console/legal", "Legal requests", lambda c, _: may_handle_legal(c)),
    NavItem("break_glass", "/console/break-glass", "Break-glass", may_see_personal_data),
    NavItem("review", "/console/review", "Review", lambda c, _: may_review(c)),
)


def items_for(ctx: StaffContext | None) -> list[NavItem]:
    """Return the items the signed-in staff member may use, in order (none when signed out)."""
    if ctx is None:
        return []
    policy = ctx.policy
    if policy is None:  # no policy to judge by: only the pages open to everyone signed in
        return [item for item in ITEMS if item.rule is None]
    return [item for item in ITEMS if item.shown_to(ctx, policy)]

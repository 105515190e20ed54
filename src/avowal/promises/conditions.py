"""When the page states a promise, and what a promise needs from the settings."""

from __future__ import annotations

from avowal.policy.checks import purposes_of
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import ParentalConsentMethod, StaffKind
from avowal.rights import contact
from avowal.settings import Settings

# -- what the page states, per policy ---------------------------------------------------------


def always(_: LoadedPolicy) -> bool:
    """Say yes: the page states this for every policy."""
    return True


def writes_news(loaded: LoadedPolicy) -> bool:
    """Say whether any field is used to write to people (the communications section)."""
    p, t = loaded.policy, loaded.taxonomy
    return any(
        t.is_within(u, "marketing.communications")
        for name, point in p.collection_points.items()
        for f in point.fields
        for u in purposes_of(p, name, f)
    )


def announces_recipients(loaded: LoadedPolicy) -> bool:
    """Say whether the page states who receives (or does not receive) data."""
    p = loaded.policy
    return (
        bool(p.collection_points)
        or p.commitments.no_undisclosed_recipients
        or not p.recipients
        or any(r not in p.legal_disclosures.recipients for r in p.recipients)
    )


def people_kinds(loaded: LoadedPolicy) -> set[StaffKind]:
    """Return the kinds of people (not services) the roles admit."""
    return {k for r in loaded.policy.staff.roles.values() if not r.service for k in r.kinds}


def knowing(lp: LoadedPolicy) -> bool:
    """Say whether the page states that data comes only through declared forms."""
    return lp.policy.commitments.knowing_collection_only or not lp.policy.collection_points


def four_eyes(lp: LoadedPolicy) -> bool:
    """Say whether the page states that a second officer approves legal disclosures."""
    ld = lp.policy.legal_disclosures
    return bool(ld.grounds) and ld.four_eyes


def refusable_cookies(lp: LoadedPolicy) -> bool:
    """Say whether the page states that cookies may be refused."""
    a, p = lp.policy.analytics, lp.policy
    return (a.enabled and not a.cookieless) or (bool(p.cookies) and p.cookie_rules.can_refuse)


def contact_form(lp: LoadedPolicy) -> bool:
    """Say whether the page offers the contact form for questions and requests."""
    return contact.fields_of(lp) is not None


def posting(lp: LoadedPolicy) -> bool:
    """Say whether the page states that changes are posted on it."""
    ch = lp.policy.changes
    return ch.notice_days == 0 or "posting" in ch.notify_by


# -- what a promise needs from the settings ---------------------------------------------------


def needs_tls(settings: Settings, _: LoadedPolicy) -> str | None:
    """Say what to set so that credentials never travel in clear text."""
    if settings.env == "production":
        return None  # check_production refuses to start without TLS or a trusted proxy
    return (
        "AVOWAL_ENV=production, with AVOWAL_TLS_CERT_FILE and AVOWAL_TLS_KEY_FILE or the "
        "TLS-terminating proxy in AVOWAL_TRUSTED_PROXIES (outside production plain HTTP is served)"
    )


def needs_mail(settings: Settings, _: LoadedPolicy) -> str | None:
    """Say what to set so that mail can be sent."""
    if settings.effective_mail_transport != "none":
        return None
    return (
        "mail is not configured: set AVOWAL_SMTP_HOST (with AVOWAL_MAIL_FROM), or "
        "AVOWAL_MAIL_TRANSPORT=files to keep messages in the outbox folder"
    )


def needs_parent_by_mail(settings: Settings, lp: LoadedPolicy) -> str | None:
    """Say what parental consent needs: the e-mail plus method (the one avowal drives) and mail."""
    kids = lp.policy.children
    if kids is not None and kids.consent_method is not ParentalConsentMethod.email_plus:
        return (
            f"children.consent_method is {kids.consent_method.value}, which avowal does not "
            "drive: use email_plus"
        )
    return needs_mail(settings, lp)

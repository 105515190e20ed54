"""Cookie consent: record each choice with a signed receipt, show its history, link it to people.

A record holds the consent id (random, in the consent cookie), the banner version, the categories
granted and refused, the method, whether the browser sent Global Privacy Control, the language,
the time and the page's scrubbed path: no IP address, no user agent. Global Privacy Control turns
the advertising category off (:data:`avowal.consent.cookie.GPC_OFF`), and a choice the banner
makes for the visitor because of it (method ``gpc``) never turns on what they refused before.
"""

from __future__ import annotations

import secrets as random
import uuid
from collections import Counter

from sqlalchemy.orm import Session

from avowal.analytics import scrub
from avowal.audit import service as audit
from avowal.callers.exceptions import PurposeNotGranted
from avowal.callers.service import Caller
from avowal.consent import banner, repository
from avowal.consent.cookie import GPC_OFF, NECESSARY, format_value
from avowal.consent.exceptions import (
    REFUSAL,
    BannerVersionStale,
    CategoriesNotChoosable,
    ConsentNotFound,
    GpcNotHonoured,
    PurposeNotForCookieConsents,
)
from avowal.consent.models import CookieConsent, CookieConsentLink
from avowal.consent.schemas import (
    ChoiceRecorded,
    ChoiceRecordedEntry,
    ConsentHistory,
    CookieChoice,
    CookieReceipt,
    GpcSupport,
    LinkedConsent,
    SubjectCookieConsents,
)
from avowal.crypto import signing
from avowal.crypto.service import Secrets
from avowal.lib import clock, text
from avowal.lifecycle import repository as versions
from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import CookieCategory
from avowal.policy.taxonomy import SERVING_THE_PERSON, is_within
from avowal.settings import Settings
from avowal.vault import records
from avowal.vault.subjects import living_subject

# The back end serving the person attaches their consent id and reads it back.
MAX_PATH = 300


def allowed_origins(loaded: LoadedPolicy, settings: Settings) -> frozenset[str]:
    """Return the origins whose pages may send choices: counted sites, this server, settings."""
    sites = {f"https://{s.domain}" for s in loaded.policy.analytics.sites}
    return frozenset({*sites, banner.own_origin(settings), *settings.consent_origins})


def allowed_origin(loaded: LoadedPolicy, settings: Settings, origin: str | None) -> str | None:
    """Return ``origin`` if its pages may send choices, else None."""
    if not origin or origin not in allowed_origins(loaded, settings):
        return None
    return origin


def clean_path(path: str) -> str:
    """Return a page path without query or fragment, identifiers replaced, truncated."""
    bare = path.split("#", 1)[0].split("?", 1)[0].strip() or "/"
    if not bare.startswith("/"):
        bare = "/" + bare
    return text.clean(scrub.scrub_path(bare, Counter()))[:MAX_PATH]


def _choosable(loaded: LoadedPolicy, granted: list[str]) -> frozenset[CookieCategory]:
    offered = banner.offered(loaded.policy)
    bad = [g for g in granted if g not in {c.value for c in offered}]
    if bad:
        raise CategoriesNotChoosable(
            "only the categories the banner offers may be granted; strictly necessary cookies "
            "are always on and need no consent",
            field="granted",
            categories=sorted({text.clean(b)[:40] for b in bad}),
            offered=[c.value for c in offered],
            promise=REFUSAL,
        )
    return frozenset(CookieCategory(g) for g in granted)


def record(
    session: Session,
    loaded: LoadedPolicy,
    secrets: Secrets,
    choice: CookieChoice,
    *,
    gpc_signal: bool = False,
) -> ChoiceRecorded:
    """Record a choice made on the current banner; return the cookie value and signed receipt."""
    current = banner.version(loaded)
    if choice.version != current:
        raise BannerVersionStale(
            "the cookie declaration changed since this banner was shown; show the banner again",
            field="version",
            version=choice.version,
            current=current,
            promise=REFUSAL,
        )
    granted = _choosable(loaded, choice.granted)
    gpc = gpc_signal or choice.method == "gpc"
    honour = loaded.policy.cookie_rules.honour_global_privacy_control
    consent_id = choice.consent_id or random.token_hex(16)
    if gpc and honour:
        granted -= GPC_OFF
    if choice.method == "gpc":
        earlier = repository.latest(session, consent_id)
        if earlier is not None:
            granted -= {c for c in CookieCategory if c.value in earlier.refused}
    offered = banner.offered(loaded.policy)
    at = clock.now()
    receipt = CookieReceipt(
        consent_id=consent_id,
        banner_version=current,
        granted=[c.value for c in offered if c in granted],
        refused=[c.value for c in offered if c not in granted],
        method=choice.method,
        gpc=gpc,
        language=choice.language.value,
        path=clean_path(choice.path),
        at=clock.iso(at),
        key_id=secrets.signing_key_id,
    )
    doc = receipt.model_dump(mode="json")
    signature = signing.sign(secrets.signing_key, doc)
    session.add(
        CookieConsent(
            id=str(uuid.uuid4()),
            consent_id=consent_id,
            banner_version=current,
            granted=receipt.granted,
            refused=receipt.refused,
            method=receipt.method,
            gpc=gpc,
            language=receipt.language,
            path=receipt.path,
            at=at,
            receipt=doc,
            signature=signature,
        )
    )
    days = banner.fixed(loaded).cookie.days
    return ChoiceRecorded(
        consent_id=consent_id,
        value=format_value(consent_id, current, frozenset(granted - {NECESSARY})),
        max_age=days * 86400 if days is not None else None,
        receipt=receipt,
        signature=signature,
    )


def _entries(session: Session, consent_id: str) -> list[ChoiceRecordedEntry]:
    return [
        ChoiceRecordedEntry(receipt=CookieReceipt.model_validate(r.receipt), signature=r.signature)
        for r in repository.history(session, consent_id)
    ]


def history(session: Session, consent_id: str) -> ConsentHistory:
    """Return every choice recorded under a consent id, newest first."""
    choices = _entries(session, consent_id)
    if not choices:
        raise ConsentNotFound("no choice was recorded under this consent id")
    return ConsentHistory(consent_id=consent_id, choices=choices)


def _linked(session: Session, row: CookieConsentLink) -> LinkedConsent:
    return LinkedConsent(
        subject_id=row.subject_id,
        consent_id=row.consent_id,
        linked_at=clock.aware(row.at),
        actor=row.actor,
        choices=_entries(session, row.consent_id),
    )


def link(session: Session, caller: Caller, subject_id: str, consent_id: str) -> LinkedConsent:
    """Attach a consent id to a living person, for the back end serving them (audited)."""
    if not any(is_within(p, SERVING_THE_PERSON) for p in caller.purposes):
        exc = PurposeNotGranted(
            f"role '{caller.role}' grants no use within {SERVING_THE_PERSON}: only the back end "
            "serving the person attaches their cookie consent",
            purpose=SERVING_THE_PERSON,
            role=caller.role,
            granted=list(caller.purposes),
        )
        raise audit.refuse(
            session,
            exc,
            actor=caller.name,
            role=caller.role,
            action="link_cookie_consent",
            subject_id=subject_id,
        )
    living_subject(session, subject_id, lock=True)
    if repository.latest(session, consent_id) is None:
        raise ConsentNotFound("no choice was recorded under this consent id", field="consent_id")
    row = repository.link(session, subject_id, consent_id)
    if row is None:
        row = CookieConsentLink(
            consent_id=consent_id, subject_id=subject_id, at=clock.now(), actor=caller.name
        )
        session.add(row)
        session.flush()
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="link_cookie_consent",
            subject_id=subject_id,
            purpose=SERVING_THE_PERSON,
        ),
    )
    return _linked(session, row)


def linked(
    session: Session, loaded: LoadedPolicy, caller: Caller, subject_id: str, purpose: str
) -> SubjectCookieConsents:
    """Return a person's linked consent ids and their histories, for a purpose serving them."""
    records.authorise_records(
        session,
        loaded,
        caller,
        subject_id,
        purpose,
        action="cookie_consents",
        what="cookie consents",
        refusal=PurposeNotForCookieConsents,
    )
    consents = [_linked(session, row) for row in repository.links_of(session, subject_id)]
    audit.append(
        session,
        audit.Event(
            actor=caller.name,
            role=caller.role,
            action="cookie_consents",
            subject_id=subject_id,
            purpose=purpose,
        ),
    )
    return SubjectCookieConsents(subject_id=subject_id, purpose=purpose, consents=consents)


def forget(session: Session, subject_id: str) -> None:
    """Delete an erased person's links to consent ids (the anonymous records stay)."""
    repository.delete_links(session, subject_id)


def gpc_support(session: Session, loaded: LoadedPolicy) -> GpcSupport:
    """Return the site's gpc.json: honoured since the version in effect took effect."""
    if not loaded.policy.cookie_rules.honour_global_privacy_control:
        raise GpcNotHonoured("the policy in effect does not promise to honour GPC")
    version = versions.get(session, loaded.version_id) or versions.in_effect(session, clock.now())
    effective = version.effective if version is not None else clock.now().date()
    return GpcSupport(gpc=True, last_update=effective)

"""The policy file format, validated by Pydantic.

Every key that names a data category, data use or data subject is a key of the fideslang default
taxonomy or a custom key declared under ``taxonomy``; those cross-references are checked by
:mod:`avowal.policy.checks`, not here, so that every problem is reported at once with its location.
"""

from __future__ import annotations

import datetime as dt
from enum import StrEnum
from typing import Annotated

from pydantic import BaseModel, ConfigDict, EmailStr, Field, HttpUrl, StringConstraints

KEY_PATTERN = r"^[a-z0-9_]+(\.[a-z0-9_]+)*$"
NAME_PATTERN = r"^[a-z][a-z0-9_]*$"
COUNTRY_PATTERN = r"^[A-Z]{2}$"
GROUNDS_PATTERN = "^(comply_with_law|lawful_request|operate_systems|protect_rights)$"
COOKIE_NAME_PATTERN = r"^[!#$%&'*+.^_`|~0-9A-Za-z-]{1,200}$"
COOKIE_DOMAIN_PATTERN = r"^\.?[a-z0-9.-]+$"
COOKIE_PATH_PATTERN = r"^/[^;\s]*$"
LIFETIME_PATTERN = r"^(session|\d+ (minutes?|hours?|days?|months?|years?))$"
SITE_DOMAIN_PATTERN = r"^[a-z0-9.-]+\.[a-z]{2,}$|^localhost$"
RETENTION_AFTER_PATTERN = "^(collection|last_activity|account_closure)$"
NOTIFY_BY_PATTERN = "^(banner|email|posting)$"
HASHING_PATTERN = "^argon2id$"

# What each pattern asks for, in the words `avowal policy check` says instead of the pattern.
FORMATS = {
    KEY_PATTERN: "a key is lowercase words (letters, digits, _) joined by dots, "
    "like user.contact.email",
    NAME_PATTERN: "a name is lowercase letters, digits and _, starting with a letter, "
    "like payment_processor (at most 64 characters)",
    COUNTRY_PATTERN: "a country is its two-letter ISO 3166 code in capitals, like US or CA",
    GROUNDS_PATTERN: "a ground is one of comply_with_law, lawful_request, operate_systems, "
    "protect_rights",
    COOKIE_NAME_PATTERN: "a cookie name is 1 to 200 letters, digits or !#$%&'*+.^_`|~- "
    "(no space, = or ;), like cm_consent; * stands for any characters, like _ga_*",
    COOKIE_DOMAIN_PATTERN: "a domain is lowercase, like example.com, or .example.com for every "
    "subdomain",
    COOKIE_PATH_PATTERN: "a path starts with / and has no space or ;, like / or /account",
    LIFETIME_PATTERN: 'a lifetime is "session" or a number and a unit, like "13 months", '
    '"30 days" or "1 year" (units: minutes, hours, days, months, years)',
    SITE_DOMAIN_PATTERN: "a site is its lowercase domain without https:// or a path, "
    "like example.com, or localhost",
    RETENTION_AFTER_PATTERN: "after is one of collection, last_activity, account_closure",
    NOTIFY_BY_PATTERN: "a way to notify is one of banner, email, posting",
    HASHING_PATTERN: "argon2id is the only password hashing avowal accepts",
}

Key = Annotated[str, StringConstraints(pattern=KEY_PATTERN)]
Name = Annotated[str, StringConstraints(pattern=NAME_PATTERN, max_length=64)]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1)]


class Strict(BaseModel):
    """Base of every policy model: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Organisation(Strict):
    name: Text
    website: HttpUrl | None = None
    privacy_contact: EmailStr = Field(description="Where people send questions about the policy.")
    postal_address: Text | None = None


class Language(StrEnum):
    """Languages avowal writes in (the page, mail, the banner); the policy picks one."""

    en = "en"
    fr = "fr"


class PolicyMeta(Strict):
    title: Text = "Privacy Policy"
    language: Language = Field(
        Language.en, description="The language of the policy's own text, mail and banner."
    )
    effective: dt.date
    introduction: Text | None = Field(
        None,
        description="The policy's own opening words (why privacy matters to the organisation).",
    )
    use_constitutes_consent: bool = Field(
        False,
        description="The site states that using it is consent to collection under this policy.",
    )


class Purpose(Strict):
    """A data use the organisation declares, explained in plain words."""

    description: Text = Field(
        description="Why the data is used, as the reader should understand it."
    )


class CustomKey(Strict):
    key: Key
    parent: Key
    name: Text
    description: Text | None = None


class CustomTaxonomy(Strict):
    data_categories: list[CustomKey] = []
    data_uses: list[CustomKey] = []
    data_subjects: list[CustomKey] = []


class Commitments(Strict):
    """The promises the policy makes in plain words, each checked against the rest of the file."""

    knowing_collection_only: bool = Field(
        True, description="Personal data only when knowingly and specifically supplied."
    )
    purpose_limitation: bool = Field(
        True, description="Data is used only for the purposes announced."
    )
    no_undisclosed_recipients: bool = Field(
        True, description="No disclosure to a recipient not announced before collection."
    )
    never_sold: bool = Field(False, description="Personal data is never shared, rented or sold.")
    parental_consent_under: int | None = Field(
        None,
        ge=1,
        le=21,
        description="People under this age need a parent's or guardian's consent.",
    )
    change_notice: bool = Field(
        True, description="Changes are posted and announced before they apply."
    )
    staff_need_to_know: bool = Field(
        True, description="Only staff whose role needs it see personal data, under confidentiality."
    )
    encrypted_transport: bool = Field(
        True, description="Passwords and personal data travel over TLS."
    )
    privacy_center: bool = Field(
        True,
        description="People see, download, correct, withdraw, object and erase at /privacy/me, "
        "signing in by a link mailed to them (so it needs mail).",
        # Left out of the canonical JSON at its default, so that policies written before it keep
        # their version id (content hash).
        exclude_if=lambda on: on is True,
    )


class Storage(StrEnum):
    full = "full"
    last4 = "last4"
    hash = "hash"
    none = "none"


class FieldType(StrEnum):
    text = "text"
    email = "email"
    phone = "phone"
    card = "card"
    date = "date"
    address = "address"
    country = "country"
    postal_code = "postal_code"
    url = "url"
    password = "password"


class CollectedField(Strict):
    label: Text | None = None
    category: Key
    type: FieldType = FieldType.text
    required: bool = False
    storage: Storage = Storage.full
    lookup: bool = Field(False, description="Keep a blind index so the person can be found by it.")


class CollectionPoint(Strict):
    title: Text
    description: Text | None = None
    subjects: list[Key] = Field(min_length=1)
    admits_minors: bool = Field(
        False, description="People under the children threshold may submit data here."
    )
    fields: dict[Name, CollectedField] = Field(min_length=1)
    purposes: list[Key] = Field(min_length=1)
    field_purposes: dict[Name, list[Key]] = Field(
        {}, description="Purposes that apply to some fields only, on top of the point's purposes."
    )
    recipients: list[Name] = []


class RecipientKind(StrEnum):
    processor = "processor"
    controller = "controller"
    authority = "authority"
    buyer = "buyer"  # the data is sold to it
    partner = "partner"  # the data is shared with it for its own ends


class Recipient(Strict):
    name: Text
    kind: RecipientKind
    country: Annotated[str, StringConstraints(pattern=COUNTRY_PATTERN)]
    purposes: list[Key] = []
    categories: list[Key] = Field(
        [],
        description="Data categories it may receive (a category covers those beneath it); "
        "a disclosure must match both these and its purposes.",
    )
    description: Text | None = None


class LegalDisclosures(Strict):
    """When the organisation reserves the right to disclose without announcing it at collection."""

    grounds: list[
        Annotated[
            str,
            StringConstraints(pattern=GROUNDS_PATTERN),
        ]
    ] = []
    recipients: list[Name] = Field(
        [], description="Recipients (authorities) such disclosures go to."
    )
    four_eyes: bool = Field(True, description="A second privacy officer approves each disclosure.")


# The uses news may be sent for (avowal.mail.news): communications people agreed to, and
# notices about the service itself.
COMMUNICATION_FAMILIES = ("marketing.communications", "essential.service.notifications")


class Communication(Strict):
    """A kind of message staff may send people (a service update, a new project)."""

    title: Text = Field(description="What people see the message called (it shows in it).")
    description: Text = Field(description="What such messages are about, in plain words.")
    purpose: Key = Field(
        description="The declared purpose the messages serve (within marketing.communications "
        "or essential.service.notifications): it alone decides who receives them."
    )


class CookieCategory(StrEnum):
    strictly_necessary = "strictly_necessary"
    functional = "functional"
    analytics = "analytics"
    advertising = "advertising"
    performance = "performance"


class Cookie(Strict):
    name: Annotated[str, StringConstraints(pattern=COOKIE_NAME_PATTERN)] = Field(
        description="The cookie's name; `*` stands for any characters (`_ga_*`)."
    )
    provider: Text
    category: CookieCategory | None = None
    domain: Annotated[str, StringConstraints(pattern=COOKIE_DOMAIN_PATTERN)] | None = Field(
        None,
        description="The domain it is set on (`.example.com` for every subdomain); withdrawal "
        "deletes it there. Default: the page's own host.",
    )
    path: Annotated[str, StringConstraints(pattern=COOKIE_PATH_PATTERN)] = Field(
        "/", description="The path it is set on; withdrawal deletes it there."
    )
    lifetime: Annotated[str, StringConstraints(pattern=LIFETIME_PATTERN)]
    purpose: Key
    description: Text | None = None


class CookieRules(Strict):
    can_refuse: bool = True
    consent_cookie: Text | None = Field(
        None,
        description="The declared, strictly necessary cookie that remembers a visitor's choices "
        "(the consent id); the banner and the middleware read it.",
    )
    google_consent_mode: bool = Field(
        True,
        description="Signal choices to Google's tags as Consent Mode v2 updates (denied by "
        "default) when the page uses them.",
    )
    refusal_consequence: Text | None = None
    honour_global_privacy_control: bool = True


class AnalyticsSite(Strict):
    domain: Annotated[str, StringConstraints(pattern=SITE_DOMAIN_PATTERN)]
    keep_query_params: list[str] = [
        "utm_source",
        "utm_medium",
        "utm_campaign",
        "utm_term",
        "utm_content",
    ]
    exclude_paths: list[str] = []


class Analytics(Strict):
    enabled: bool = True
    purpose: Key = "analytics.reporting"
    cookieless: bool = True
    sites: list[AnalyticsSite] = []
    raw_retention_days: int = Field(30, ge=1, le=3650)
    salt_rotation_hours: int = Field(24, ge=1, le=48)
    description: Text | None = None


class ParentalConsentMethod(StrEnum):
    email_plus = "email_plus"
    signed_form = "signed_form"


class AgeQuestion(StrEnum):
    """How a form asks a person's age."""

    birth_date = "birth_date"  # a date of birth field
    declaration = "declaration"  # the person says whether they are under the threshold


class Children(Strict):
    under: int = Field(ge=1, le=21)
    consent_method: ParentalConsentMethod = ParentalConsentMethod.email_plus
    age_question: AgeQuestion = Field(
        AgeQuestion.birth_date,
        description="How collection points that admit minors ask age.",
    )
    confirm_after_hours: int = Field(
        24,
        ge=1,
        le=168,
        description="Hours after a parent's consent before the confirmation message is sent "
        "and the data becomes usable (the delayed confirmation of e-mail plus).",
    )
    wait_days: int = Field(
        14,
        ge=1,
        le=90,
        description="Days to wait for the parent's answer before erasing.",
    )
    optional_purposes: list[Key] = Field(
        [],
        description="Purposes a parent may refuse while consenting to collection "
        "(e.g. marketing.communications.email).",
    )
    guidance: Text | None = None


class Confidentiality(Strict):
    version: Text
    text: Text


class StaffKind(StrEnum):
    employee = "employee"
    contractor = "contractor"
    agent = "agent"


class Role(Strict):
    title: Text
    description: Text | None = None
    purposes: list[Key] = []
    kinds: list[StaffKind] = [StaffKind.employee]
    service: bool = Field(False, description="Service tokens (site back ends) may hold this role.")


# The legal_disclosures.grounds that reserve access "to operate our systems properly or to
# protect our rights and property": break-glass is possible only under one of them.
BREAK_GLASS_GROUNDS = ("operate_systems", "protect_rights")


class BreakGlass(Strict):
    """Who may open time-boxed access to any purpose, for how long, and who is told or approves.

    Without this section nobody may: break-glass is for the roles the policy names.
    """

    roles: list[Name] = Field([], description="Staff roles that may open break-glass access.")
    kinds: list[StaffKind] = Field(
        [StaffKind.employee],
        description="Which kinds of staff of those roles may (contractors and agents only if "
        "listed).",
    )
    max_minutes: int = Field(240, ge=5, le=1440, description="Longest grant, in minutes.")
    approval_required: bool = Field(
        False, description="A second person must approve a grant before it opens."
    )
    approvers: list[Name] = Field(
        [], description="Roles whose members approve grants (another account than the holder)."
    )
    notify: list[Name] = Field(
        [], description="Roles told at once when a grant is requested or opened."
    )


class Staff(Strict):
    confidentiality: Confidentiality
    roles: dict[Name, Role] = Field(min_length=1)
    max_contractor_days: int = Field(365, ge=1, le=3650)
    break_glass: BreakGlass = BreakGlass()


class RetentionRule(Strict):
    category: Key | None = None
    purpose: Key | None = None
    days: int = Field(ge=1)
    after: Annotated[str, StringConstraints(pattern=RETENTION_AFTER_PATTERN)] = "collection"
    reason: Text | None = None


class ChangeRule(Strict):
    notice_days: int = Field(ge=0, le=365)
    continued_use_accepts: bool = Field(
        True, description="Continued use after notice accepts non-material changes."
    )
    material_requires_explicit: bool = Field(
        True, description="New purposes or recipients need the person's explicit consent."
    )
    notify_by: list[Annotated[str, StringConstraints(pattern=NOTIFY_BY_PATTERN)]] = ["posting"]


class PasswordPolicy(Strict):
    min_length: int = Field(12, ge=8, le=128)
    reject_common: bool = True
    hashing: Annotated[str, StringConstraints(pattern=HASHING_PATTERN)] = "argon2id"


class Security(Strict):
    tls_required: bool = True
    password: PasswordPolicy = PasswordPolicy()
    mfa_for_personal_data: bool = True
    encryption_at_rest: bool = True
    internal_review_days: int = Field(90, ge=1, le=730)
    physical_security: Text | None = None


class Policy(Strict):
    """A complete privacy policy (format version 1)."""

    avowal: int = Field(1, ge=1, le=1, description="Policy file format version.")
    organisation: Organisation
    policy: PolicyMeta
    taxonomy: CustomTaxonomy = CustomTaxonomy()
    commitments: Commitments = Commitments()
    purposes: dict[Key, Purpose] = Field(
        min_length=1, description="Every data use the policy relies on (fideslang data use keys)."
    )
    collection_points: dict[Name, CollectionPoint] = {}
    recipients: dict[Name, Recipient] = {}
    legal_disclosures: LegalDisclosures = LegalDisclosures()
    cookies: list[Cookie] = []
    cookie_rules: CookieRules = CookieRules()
    analytics: Analytics = Analytics(enabled=False)
    communications: dict[Name, Communication] = Field(
        {},
        description="The kinds of messages (news) staff may send people, each for a purpose.",
        # Left out of the canonical JSON when empty, so that a policy without the section keeps
        # the version id (content hash) it had before the section existed.
        exclude_if=lambda kinds: not kinds,
    )
    children: Children | None = None
    staff: Staff
    retention: list[RetentionRule] = []
    changes: ChangeRule
    security: Security = Security()

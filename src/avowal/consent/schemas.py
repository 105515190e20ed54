"""What the cookie consent API takes and answers: the banner's configuration, choices, proof."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from avowal.policy.schemas import Language

ConsentId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{32}$")]
BannerVersion = Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{12}$")]
Method = Literal["banner", "settings", "gpc"]


# -- The banner's configuration (the object C of /c.js) ----------------------------------------


class BannerCookie(BaseModel):
    """A declared cookie as the banner lists it (and deletes it on withdrawal)."""

    name: str = Field(description="The name; `*` stands for any characters.")
    provider: str
    lifetime: str
    description: str | None
    domain: str | None
    path: str


class BannerCategory(BaseModel):
    """A category with declared cookies; strictly necessary ones are required (always on)."""

    key: str
    required: bool
    cookies: list[BannerCookie]


class ConsentCookieSettings(BaseModel):
    """Where the banner keeps the consent cookie."""

    name: str | None = Field(description="`cookie_rules.consent_cookie` of the policy.")
    days: int | None = Field(description="Its declared lifetime in days (none: a session cookie).")
    path: str
    domain: str | None


class CategoryText(BaseModel):
    """A category's label and what its cookies do, in one language."""

    label: str
    description: str


class BannerTexts(BaseModel):
    """Every string the banner shows, in one language."""

    title: str
    intro: str
    accept_all: str
    reject_all: str
    save: str
    customise: str
    close: str
    privacy_link: str
    always_on: str
    gpc_note: str
    cookies_heading: str
    change_notice: str = Field(description="Announces a change; `{date}` is its effective date.")
    change_link: str
    categories: dict[str, CategoryText]
    refusal_consequence: str | None = Field(description="The policy's own words, if any.")


class BannerChange(BaseModel):
    """The next announced policy version, which the banner tells visitors about."""

    effective: dt.date
    url: str = Field(description="The public page comparing it with the version before.")
    material: bool
    summary: str | None


class BannerConfig(BaseModel):
    """The configuration `/c.js` hands the banner script."""

    version: str = Field(description="Hash of the categories, cookies and texts shown.")
    endpoint: str
    privacy_url: str
    cookie: ConsentCookieSettings
    gpc: bool
    consent_mode: bool
    choice: bool = Field(
        description="Visitors may refuse cookies (cookie_rules.can_refuse) and there is "
        "something to choose; otherwise the banner shows nothing."
    )
    categories: list[BannerCategory]
    texts: dict[str, BannerTexts]
    default_language: str
    change: BannerChange | None


# -- Recording a choice ------------------------------------------------------------------------


class CookieChoice(BaseModel):
    """A visitor's choice in the banner (or made for them by Global Privacy Control)."""

    model_config = ConfigDict(extra="forbid")

    consent_id: ConsentId | None = Field(
        None, description="The id in the consent cookie; none for a first choice (one is made)."
    )
    version: BannerVersion = Field(description="The banner version the choice was made on.")
    granted: list[Annotated[str, StringConstraints(max_length=40)]] = Field(
        max_length=10, description="Categories consented to; every other one offered is refused."
    )
    method: Method = "banner"
    language: Language = Language.en
    path: Annotated[str, StringConstraints(max_length=2000)] = Field(
        "/", description="The page's path; kept without query or fragment, identifiers removed."
    )


class CookieReceipt(BaseModel):
    """The signed record of one choice: verify it with `/v1/receipts/key`."""

    consent_id: str
    banner_version: str
    granted: list[str]
    refused: list[str]
    method: Method
    gpc: bool
    language: str
    path: str
    at: str
    key_id: str


class ChoiceRecorded(BaseModel):
    """A recorded choice: the consent cookie to set and the signed receipt."""

    consent_id: str
    value: str = Field(description="The consent cookie's value.")
    max_age: int | None = Field(description="Seconds the cookie lives (none: a session cookie).")
    receipt: CookieReceipt
    signature: str


class ChoiceRecordedEntry(BaseModel):
    """One recorded choice, with its receipt and signature."""

    receipt: CookieReceipt
    signature: str


class ConsentHistory(BaseModel):
    """Every choice recorded under a consent id, newest first."""

    consent_id: str
    choices: list[ChoiceRecordedEntry]


# -- Links to people ---------------------------------------------------------------------------


class LinkRequest(BaseModel):
    """Attach a consent id to a person (their back end knows both)."""

    model_config = ConfigDict(extra="forbid")

    consent_id: ConsentId


class LinkedConsent(BaseModel):
    """A consent id attached to a person, with its history."""

    subject_id: str
    consent_id: str
    linked_at: dt.datetime
    actor: str
    choices: list[ChoiceRecordedEntry] = Field(description="Newest first.")


class SubjectCookieConsents(BaseModel):
    """The consent ids attached to a person, with their histories."""

    subject_id: str
    purpose: str
    consents: list[LinkedConsent]


class GpcSupport(BaseModel):
    """The site's Global Privacy Control support resource (`/.well-known/gpc.json`)."""

    model_config = ConfigDict(populate_by_name=True)

    gpc: bool
    last_update: dt.date = Field(alias="lastUpdate")

"""The export of everything held about a person (schema ``avowal-export/1``) and the rights API.

The export is the one picture of a person: the privacy center shows it, its JSON download is it,
and the API answers it. A new version of the schema gets a new ``schema`` value; fields are only
ever added within a version.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from avowal.vault.schemas import Answer, SubjectRef

SCHEMA = "avowal-export/1"

PointKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
FieldKey = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
PurposeKey = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class Named(Answer):
    """A key of the policy and how the policy names it to people."""

    key: str
    name: str


class HeldRecipient(Answer):
    key: str
    name: str
    kind: str
    country: str


class HeldValue(Answer):
    """One value held: what it is, what is kept of it, why, for whom and for how long."""

    field: str
    label: str
    category: Named
    value: str | None = Field(
        description="What is kept: the value itself, its last four characters (`last4`), a "
        "keyed hash (`hash`), or null when the policy keeps nothing of it (`none`)."
    )
    kept_as: Literal["full", "last4", "hash", "none"]
    collected_at: str
    receipt_id: str
    notice_id: str
    purposes: list[Named]
    recipients: list[HeldRecipient]
    retention: list[str] = Field(description="The policy's retention rules for this value.")
    withheld: str | None = Field(
        None,
        description="Why nothing of it is used just now (a parent's consent awaited), if so.",
    )


class HeldPoint(Answer):
    """The values held from one collection point (a form of the site)."""

    point: str
    title: str
    values: list[HeldValue]


class ExportReceipt(Answer):
    """A signed receipt: the document and its Ed25519 signature (verify with /v1/receipts/key)."""

    receipt: dict[str, object]
    signature: str


class ExportDisclosure(Answer):
    at: str
    recipient: Named
    purpose: Named
    fields: list[str]


class ExportAcceptance(Answer):
    version_id: str
    method: str
    at: str


class ExportCookieConsent(Answer):
    consent_id: str
    at: str
    granted: list[str]
    refused: list[str]
    method: str


class ExportObjection(Answer):
    purpose: Named
    at: str
    via: str


class ExportParental(Answer):
    status: str
    point: str
    refused_purposes: list[str]


class Export(Answer):
    """Everything avowal holds about one person, for them (``schema``: avowal-export/1)."""

    model_config = ConfigDict(json_schema_extra={"$id": SCHEMA}, populate_by_name=True)

    schema_: Literal["avowal-export/1"] = Field("avowal-export/1", alias="schema")
    generated_at: str
    organisation: str
    privacy_contact: str
    subject_id: str
    created_at: str
    points: list[HeldPoint]
    receipts: list[ExportReceipt]
    disclosures: list[ExportDisclosure]
    acceptances: list[ExportAcceptance]
    cookie_consents: list[ExportCookieConsent]
    objections: list[ExportObjection]
    parental_consent: ExportParental | None = None


# -- Requests -----------------------------------------------------------------------------------


class CorrectionRequest(BaseModel):
    """A corrected value for one field the person gave at a point."""

    model_config = ConfigDict(extra="forbid")

    point: PointKey
    field: FieldKey
    value: Annotated[str, StringConstraints(min_length=1, max_length=2000)]


class Corrected(Answer):
    """The correction: the old value destroyed, a new signed receipt for the new one."""

    subject_id: str
    point: str
    field: str
    receipt: dict[str, object]
    signature: str


class WithdrawalRequest(BaseModel):
    """A purpose the person no longer agrees to."""

    model_config = ConfigDict(extra="forbid")

    purpose: PurposeKey


class Withdrawn(Answer):
    """The withdrawal: the purpose is gone from every value held for it, effective at once."""

    subject_id: str
    purpose: str
    values_changed: int
    values_destroyed: int
    receipt_ids: list[str]


class ObjectionRequest(BaseModel):
    """Communications the person objects to (unsubscribes from)."""

    model_config = ConfigDict(extra="forbid")

    purpose: PurposeKey


class Objected(Answer):
    subject_id: str
    purpose: str
    new: bool = Field(description="False when the person had objected already.")


class SignInLinkRequest(BaseModel):
    """The site's signed-in user, to open their privacy center without a mailed link."""

    model_config = ConfigDict(extra="forbid")

    subject: SubjectRef


class SignInLink(Answer):
    """A single-use link into the privacy center, to send the user's browser to at once."""

    url: str
    expires_at: str

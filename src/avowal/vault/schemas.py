"""Request bodies and answers of the vault API."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    EmailStr,
    Field,
    SerializerFunctionWrapHandler,
    StringConstraints,
    model_serializer,
    model_validator,
)

Ref = Annotated[str, StringConstraints(min_length=1, max_length=200, pattern=r"^[\x21-\x7e]+$")]
SubjectId = Annotated[str, StringConstraints(pattern=r"^[0-9a-f-]{36}$")]


class SubjectRef(BaseModel):
    """The person: the site's own user id (``ref``) or an existing ``subject_id``; exactly one."""

    model_config = ConfigDict(extra="forbid")

    ref: Ref | None = None
    subject_id: SubjectId | None = None

    @model_validator(mode="after")
    def _exactly_one(self) -> SubjectRef:
        if (self.ref is None) == (self.subject_id is None):
            raise ValueError("give exactly one of ref or subject_id")
        return self


class ParentContact(BaseModel):
    """A minor's parent's or guardian's address, given with the notice shown for it."""

    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    notice_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="The parent notice shown when the address was asked "
        "(GET /v1/notices/{point}/parent)."
    )


class CollectRequest(BaseModel):
    """Data a person gives at a collection point, with the notice they were shown."""

    model_config = ConfigDict(extra="forbid")

    notice_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    subject: SubjectRef
    values: dict[str, object] = Field(description="Field name to value, as the person gave it.")
    declared_under: bool | None = Field(
        None,
        description='The person\'s answer to "are you under N?" where the policy asks age by '
        "declaration (children.age_question: declaration) at a point admitting minors.",
    )
    parent: ParentContact | None = Field(
        None, description="Required for a person under the children threshold."
    )


class DisclosureRequest(BaseModel):
    """A disclosure of some of a person's values to a declared recipient, for a purpose."""

    model_config = ConfigDict(extra="forbid")

    subject_id: SubjectId
    recipient: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    fields: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1
    )
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=200)]


class ConsentRequest(BaseModel):
    """A person's explicit consent to the current notice of a point, for the values held there."""

    model_config = ConfigDict(extra="forbid")

    point: Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_]*$", max_length=64)]
    notice_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="The notice the person was shown and agreed to: the point's current one."
    )


# -- Answers ------------------------------------------------------------------------------------
# Shared with avowal.client, which parses every answer into these models.


class Answer(BaseModel):
    """An answer of the vault API.

    Item access (``answer["subject_id"]``) reads the attribute of that name, so code written
    against the plain-JSON client keeps working.
    """

    def __getitem__(self, name: str) -> Any:
        try:
            return getattr(self, name)
        except AttributeError:
            raise KeyError(name) from None


class NoticeField(Answer):
    """A field the person is asked for, and what is done with it."""

    name: str
    label: str
    category: str
    category_name: str
    type: str
    required: bool
    storage: str
    purposes: list[str]


class NoticePurpose(Answer):
    key: str
    description: str


class NoticeRecipient(Answer):
    key: str
    name: str
    kind: str
    country: str


class NoticeRetention(Answer):
    category: str | None = None
    purpose: str | None = None
    days: int
    after: str
    reason: str | None = None

    @model_serializer(mode="wrap")
    def _without_absent(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        # A rule names a category or a purpose, not both: the notice shows (and its id hashes)
        # only what the rule says, so the published JSON hashes to its notice_id.
        shown: dict[str, Any] = handler(self)
        return {k: v for k, v in shown.items() if v is not None}


class Notice(Answer):
    """Exactly what a person sees before giving data at a collection point.

    ``notice_id`` hashes everything but itself and ``policy_version``: any change to what the
    person reads (a field, a purpose, a recipient, a retention period) makes a new notice.
    """

    model_config = ConfigDict(frozen=True)

    notice_id: str
    policy_version: str
    organisation: str
    privacy_contact: str
    point: str
    title: str
    fields: list[NoticeField]
    purposes: list[NoticePurpose]
    recipients: list[NoticeRecipient]
    retention: list[NoticeRetention]
    minimum_age_without_parent: int | None = None


class ReceiptDocument(Answer):
    """The signed content of a receipt (the signature covers exactly these keys)."""

    model_config = ConfigDict(extra="allow")

    receipt_id: str
    subject_id: str
    organisation: str
    point: str
    notice_id: str
    policy_version: str
    fields: list[str]
    field_purposes: dict[str, list[str]]
    purposes: list[str]
    recipients: list[str]
    issued_at: str
    key_id: str


class SignedReceipt(Answer):
    """A receipt and its Ed25519 signature (base64)."""

    receipt: ReceiptDocument
    signature: str


class ParentalPending(Answer):
    """A minor's collection: their values are locked until a parent consents."""

    request_id: str
    status: str
    expires_at: str
    next: str


class Collected(SignedReceipt):
    """The answer to a collection: who the person is in the vault, and their receipt."""

    subject_id: str
    parental_consent: ParentalPending | None = Field(
        None,
        description="Set only for a person under the children threshold (null otherwise): "
        "nothing of theirs is usable until their parent consents.",
    )


class ConsentReceiptDocument(ReceiptDocument):
    """A receipt for consent to a changed notice: the values it extends now hold its terms."""

    basis: Literal["consent_to_change"]
    extends_notice_ids: list[str] = Field(description="The earlier notices the values were under.")
    extends_receipt_ids: list[str] = Field(description="The receipts of those earlier notices.")


class Consented(Answer):
    """The answer to a consent: the signed receipt extending the values to the current notice."""

    subject_id: str
    receipt: ConsentReceiptDocument
    signature: str


class ReceiptKey(Answer):
    """The public key that verifies receipts."""

    algorithm: str
    key_id: str
    public_key_pem: str


class Found(Answer):
    """People found by a lookup field: only those whose value was collected for the purpose."""

    field: str
    purpose: str
    subject_ids: list[str]


class ReadValue(Answer):
    value: str | None
    point: str
    receipt_id: str
    collected_at: str


class Withheld(Answer):
    """A value not returned, and why: ``purpose_not_allowed``, ``consent_required`` (the purpose
    was added to the point's notice after the value was collected), ``objected`` (the person
    unsubscribed from the purpose) or ``not_collected``."""

    field: str
    point: str | None
    reason: str
    detail: str


class ReadResult(Answer):
    """The values collected for the purpose; the others listed as withheld."""

    subject_id: str
    purpose: str
    values: dict[str, ReadValue]
    withheld: list[Withheld]


class Disclosed(Answer):
    """Values handed to a recipient, and the receipts they were collected under."""

    disclosure_id: str
    recipient: str
    purpose: str
    values: dict[str, str | None]
    receipt_ids: list[str]


class DisclosureEntry(Answer):
    """One disclosure of the register."""

    disclosure_id: str
    recipient: str
    purpose: str
    fields: list[str]
    receipt_ids: list[str]
    actor: str
    at: str


class DisclosureRegister(Answer):
    """The disclosures of a person's data made for uses within the purpose asked."""

    subject_id: str
    purpose: str
    disclosures: list[DisclosureEntry]


class Erased(Answer):
    """A person's erasure: the key is destroyed, a tombstone remains."""

    subject_id: str
    erased_at: str


class Closed(Answer):
    """A person's account closure: when the site first said so (periods after it start then)."""

    subject_id: str
    closed_at: str

"""Cases over the API: a question or a request sent from the site's own form, and its state.

A case's answers carry no personal data: its number (the reference the person is given), its
kind, its dates and its outcome. The address and the message stay in the vault.
"""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from avowal.vault.schemas import Answer, SubjectRef

CaseKind = Literal["question", "access", "rectification", "erasure", "withdrawal", "objection"]
# How the contact form names each kind to people, in the order it offers them.
KIND_LABELS: dict[str, str] = {
    "question": "A question",
    "access": "See what you hold about me",
    "rectification": "Correct something you hold about me",
    "erasure": "Erase my account",
    "withdrawal": "Withdraw my consent to a use",
    "objection": "Object to messages I receive",
}
Message = Annotated[str, StringConstraints(min_length=1, max_length=10_000)]


class CaseCreate(BaseModel):
    """A question or a rights request a person sent from the site's own form.

    The site shows the contact point's notice (``GET /v1/notices/contact``) beside its form and
    sends its ``notice_id``. ``subject`` when the person was signed in to the site: the site
    vouches for who they are, so the request is about that account from the start.
    """

    model_config = ConfigDict(extra="forbid")

    kind: CaseKind
    email: Annotated[str, StringConstraints(min_length=3, max_length=320)] = Field(
        description="The address to answer at."
    )
    message: Message
    notice_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="The contact point's notice shown beside the form."
    )
    subject: SubjectRef | None = Field(
        None,
        description="The site's signed-in user sending it (their ``ref`` or ``subject_id``).",
    )


class CaseCreated(Answer):
    """A case opened: the reference to give the person and when it is due."""

    id: str
    number: int = Field(description="The reference the person is given.")
    kind: str
    status: str
    opened_at: dt.datetime
    due: dt.date
    identity_checked: bool = Field(
        description="True when the site vouched for the sender (``subject`` given)."
    )


class CaseRead(Answer):
    """A case's state: no address, no message, only dates, kind and outcome."""

    id: str
    number: int
    kind: str
    source: str
    status: Literal["open", "closed"]
    opened_at: dt.datetime
    due: dt.date
    overdue: bool
    extended: bool
    extension_reason: str | None
    identity_checked: bool
    closed_at: dt.datetime | None
    outcome: str | None
    archived: bool

"""What a legal request or a break-glass grant is made of, in and out."""

from __future__ import annotations

import datetime as dt
from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

Line = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Paragraph = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=4000)]
Id = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=64)]


class LegalRequestCreate(BaseModel):
    """A request from an authority as a privacy officer registers it (the console form)."""

    model_config = ConfigDict(extra="forbid")

    authority: Line
    reference: Line
    legal_basis: Paragraph
    recipient: Id
    subject_ids: list[Id]
    fields: list[Id]
    deadline: dt.date
    may_notify: bool
    confidential_until: dt.date | None = None


class LegalRequestRead(BaseModel):
    """A legal request as the console and the review show it (never any personal value)."""

    id: str
    authority: str
    reference: str
    legal_basis: str
    recipient: str
    subject_ids: list[str]
    fields: list[str]
    deadline: dt.date
    may_notify: bool
    confidential_until: dt.date | None
    status: str
    requested_by: str
    requested_at: dt.datetime
    decided_by: str | None
    decided_at: dt.datetime | None
    exported_at: dt.datetime | None
    export_sha256: str | None
    overdue: bool
    never_notify: bool


class BreakGlassRead(BaseModel):
    """A break-glass grant and whether it is still running."""

    id: str
    account: str
    justification: str
    started_at: dt.datetime
    expires_at: dt.datetime
    ended_at: dt.datetime | None
    state: str  # pending, active, ended, expired
    caller_name: str
    minutes: int | None = None
    needs_approval: bool = False
    approved_by: str | None = None
    approved_at: dt.datetime | None = None
    notified: list[str] = []

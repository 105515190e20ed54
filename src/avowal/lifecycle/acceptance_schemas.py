"""What the change-notice and acceptance API takes and answers."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from avowal.lib.text import StoredStr

Method = Literal["explicit", "continued_use"]


class Shown(BaseModel):
    """What a person was shown of a version when they accepted it."""

    version_id: str = Field(description="The version accepted.")
    notice: str | None = Field(
        None,
        description="How they were told: `email:<message id>`, `banner`, or the back end's own "
        "reference to what it showed.",
    )
    material: bool = Field(description="The version is a material change of the one before.")
    changes_digest: str = Field(
        description="SHA-256 of the version's stored changes (canonical JSON): what changed."
    )


class AcceptanceRead(BaseModel):
    """One acceptance of a policy version by a person."""

    model_config = ConfigDict(from_attributes=True)

    acceptance_id: str
    subject_id: str
    version_id: str
    method: Method = Field(
        description="`explicit` (the person agreed), or `continued_use` (their first "
        "authenticated interaction after the effective date, once notified)."
    )
    at: dt.datetime
    shown: Shown
    actor: str = Field(description="Who recorded it: the back end's token name.")


class AcceptanceList(BaseModel):
    """A person's acceptances of policy versions, oldest first."""

    subject_id: str
    purpose: str
    acceptances: list[AcceptanceRead]


class AcceptRequest(BaseModel):
    """A person's explicit acceptance of a version, relayed by the site's back end."""

    model_config = ConfigDict(extra="forbid")

    version_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")] = Field(
        description="The version in effect or an announced one."
    )
    shown: Annotated[StoredStr, StringConstraints(min_length=1, max_length=200)] | None = Field(
        None, description="What the person was shown, e.g. the site's own notice reference."
    )


class UpcomingChange(BaseModel):
    """A version announced to take effect later, as the banner tells it."""

    version_id: str
    previous_id: str | None
    effective: dt.date = Field(description="The day it takes effect, as announced.")
    effective_at: dt.datetime
    summary: str | None
    material: bool = Field(
        description="It adds purposes or recipients: earlier data needs explicit consent."
    )
    changes: list[str] = Field(description="Each change in one line.")
    diff_url: str = Field(description="The public page comparing it with the version before.")


class PolicyChanges(BaseModel):
    """The version in effect and the changes announced after it."""

    in_effect: str | None = Field(description="The version enforced now.")
    versions_url: str = Field(description="The public list of every version.")
    upcoming: list[UpcomingChange] = Field(description="Announced versions, soonest first.")

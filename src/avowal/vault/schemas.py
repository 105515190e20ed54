"""Request bodies of the vault API."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, model_validator

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


class CollectRequest(BaseModel):
    """Data a person gives at a collection point, with the notice they were shown."""

    model_config = ConfigDict(extra="forbid")

    notice_id: Annotated[str, StringConstraints(pattern=r"^[0-9a-f]{64}$")]
    subject: SubjectRef
    values: dict[str, object] = Field(description="Field name to value, as the person gave it.")


class DisclosureRequest(BaseModel):
    """A disclosure of some of a person's values to a declared recipient, for a purpose."""

    model_config = ConfigDict(extra="forbid")

    subject_id: SubjectId
    recipient: Annotated[str, StringConstraints(min_length=1, max_length=64)]
    fields: list[Annotated[str, StringConstraints(min_length=1, max_length=64)]] = Field(
        min_length=1
    )
    purpose: Annotated[str, StringConstraints(min_length=1, max_length=200)]

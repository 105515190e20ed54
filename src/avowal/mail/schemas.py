"""What the API takes and says about news."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, StringConstraints

from avowal.vault.schemas import Answer

Line = Annotated[str, StringConstraints(min_length=1, max_length=200)]


class NewsCreate(BaseModel):
    """A message of a kind the policy declares, to everyone who agreed to the kind's purpose."""

    model_config = ConfigDict(extra="forbid")

    kind: Annotated[str, StringConstraints(min_length=1, max_length=64)] | None = Field(
        None, description="A kind of message the policy declares under communications."
    )
    purpose: Line | None = Field(
        None,
        description="Only for a policy that declares no communications: the data use the "
        "message serves, named directly.",
    )
    subject: Line
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class NewsSent(Answer):
    """How many messages were queued, and their ids (never an address)."""

    purpose: str
    kind: str | None = Field(description="The kind of message; null for a purpose named directly.")
    count: int
    message_ids: list[str]

"""What the API takes and says about news."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from avowal.vault.schemas import Answer


class NewsCreate(BaseModel):
    """A message to send for a purpose to everyone who agreed to it."""

    model_config = ConfigDict(extra="forbid")

    purpose: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    subject: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    text: Annotated[str, StringConstraints(min_length=1, max_length=20_000)]


class NewsSent(Answer):
    """How many messages were queued, and their ids (never an address)."""

    purpose: str
    count: int
    message_ids: list[str]

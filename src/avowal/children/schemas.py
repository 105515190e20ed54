"""What the API says about children: the parent's notice, a request's status, a parent's answer."""

from __future__ import annotations

from typing import Annotated

from pydantic import BaseModel, ConfigDict, StringConstraints

from avowal.vault.schemas import Answer


class ParentNotice(Answer):
    """What the child is told before giving their parent's address, and what it is for."""

    model_config = ConfigDict(frozen=True)

    notice_id: str
    point: str
    under: int
    purpose: str
    text: str
    wait_days: int
    confirm_after_hours: int


class ParentAnswer(BaseModel):
    """A parent's answer on avowal's page: consent (perhaps refusing optional purposes) or not."""

    model_config = ConfigDict(extra="forbid")

    consent: bool
    refused_purposes: list[Annotated[str, StringConstraints(max_length=200)]] = []

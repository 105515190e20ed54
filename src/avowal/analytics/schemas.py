"""The event payload: Plausible's Events API (long names) and its tracker's short names."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field

MAX_NAME = 120
MAX_URL = 4096
MAX_REFERRER = 4096
MAX_DOMAINS = 1000


class EventIn(BaseModel):
    """One page view or custom event, as a tracker or a server sends it.

    ``name``/``n``, ``url``/``u``, ``domain``/``d`` (one domain or a comma-separated list),
    ``referrer``/``r``, ``props``/``p`` (an object, or the same as a JSON string; ``meta``/``m``
    in old Plausible scripts), ``h`` (hash-based routing: the fragment is part of the path).
    ``revenue`` and ``interactive`` are accepted and ignored.
    """

    model_config = ConfigDict(extra="ignore", frozen=True)

    name: str = Field(min_length=1, max_length=MAX_NAME, validation_alias=AliasChoices("name", "n"))
    url: str = Field(min_length=1, max_length=MAX_URL, validation_alias=AliasChoices("url", "u"))
    domain: str = Field(
        min_length=1, max_length=MAX_DOMAINS, validation_alias=AliasChoices("domain", "d")
    )
    referrer: str | None = Field(
        None, max_length=MAX_REFERRER, validation_alias=AliasChoices("referrer", "r")
    )
    props: dict[str, Any] | str | None = Field(
        None, validation_alias=AliasChoices("props", "p", "meta", "m")
    )
    hash_mode: bool | int | None = Field(None, validation_alias=AliasChoices("hashMode", "h"))


class EventAccepted(BaseModel):
    """The answer to an accepted event: how many rows were committed, or why none were."""

    stored: int = Field(description="Events committed (one per declared domain).")
    dropped: str | None = Field(
        None, description="Why nothing was stored: bot, or excluded (the path is excluded)."
    )

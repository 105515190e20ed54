"""The event payload: Plausible's Events API (long names) and its tracker's short names."""

from __future__ import annotations

from typing import Any

from pydantic import AliasChoices, BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

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


PropValue = str | int | float | bool | None
# Optional on the wire, but never null: the schema says "string", not "string or null".
Absent = SkipJsonSchema[None]


class EventPayload(BaseModel):
    """The body of ``POST /api/event``, for the API documentation (:class:`EventIn` parses it).

    Plausible's Events API: give ``name``, ``url`` and ``domain``, or the tracker's short names
    ``n``, ``u`` and ``d``. Other keys (``revenue``/``$``, ``interactive``/``i``, ``w``...) are
    accepted and ignored. Sent as ``application/json``, or as the same JSON in ``text/plain``.
    """

    model_config = ConfigDict(extra="allow", title="Event")

    name: str | Absent = Field(
        None,
        min_length=1,
        max_length=MAX_NAME,
        description="`pageview`, or a custom event's name (e.g. `Signup`). Short: `n`.",
        examples=["pageview"],
    )
    n: str | Absent = Field(None, min_length=1, max_length=MAX_NAME, description="`name`.")
    url: str | Absent = Field(
        None,
        min_length=1,
        max_length=MAX_URL,
        description="The page's http(s) address. Short: `u`.",
        examples=["https://example.com/pricing"],
    )
    u: str | Absent = Field(None, min_length=1, max_length=MAX_URL, description="`url`.")
    domain: str | Absent = Field(
        None,
        min_length=1,
        max_length=MAX_DOMAINS,
        description="The counted site's domain, or several, comma-separated. Short: `d`.",
        examples=["example.com"],
    )
    d: str | Absent = Field(None, min_length=1, max_length=MAX_DOMAINS, description="`domain`.")
    referrer: str | None = Field(
        None, max_length=MAX_REFERRER, description="The page's referrer. Short: `r`."
    )
    r: str | None = Field(None, max_length=MAX_REFERRER, description="`referrer`.")
    props: dict[str, PropValue] | str | None = Field(
        None,
        description="Custom properties (at most 30; values are strings, numbers or booleans), "
        "or the same object as a JSON string. Short: `p`; `meta`/`m` in old scripts.",
        examples=[{"plan": "team"}],
    )
    p: dict[str, PropValue] | str | None = Field(None, description="`props`.")
    hashMode: bool | int | None = Field(
        None, description="Hash-based routing: the fragment is part of the page. Short: `h`."
    )
    h: bool | int | None = Field(None, description="`hashMode`.")

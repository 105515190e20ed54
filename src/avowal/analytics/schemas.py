"""The event payload: Plausible's Events API (long names) and its tracker's short names."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

from pydantic import AliasChoices, BaseModel, ConfigDict, Field, model_validator
from pydantic.json_schema import SkipJsonSchema

MAX_NAME = 120
MAX_URL = 4096
MAX_REFERRER = 4096
MAX_DOMAINS = 1000


class EventIn(BaseModel):
    """One page view or custom event, as a tracker or a server sends it.

    ``name``/``n``, ``url``/``u``, ``domain``/``d`` (one domain or a comma-separated list),
    ``referrer``/``r``, ``props``/``p`` (an object, or the same as a JSON string; ``meta``/``m``
    in old Plausible scripts), ``h`` (hash-based routing: the fragment is part of the path),
    ``revenue``/``$``, ``interactive``/``i``, and an engagement event's ``sd`` (scroll depth)
    and ``e`` (engaged milliseconds). A numeric name is read as text; a missing domain is the
    URL's host. Revenue, scroll depth and engaged time are checked by the ingest, which drops
    them if invalid.
    """

    model_config = ConfigDict(extra="ignore", frozen=True, coerce_numbers_to_str=True)

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
    interactive: Any = Field(None, validation_alias=AliasChoices("interactive", "i"))
    revenue: Any = Field(None, validation_alias=AliasChoices("revenue", "$"))
    scroll_depth: Any = Field(None, validation_alias=AliasChoices("scroll_depth", "sd"))
    engagement_time: Any = Field(None, validation_alias=AliasChoices("engagement_time", "e"))

    @model_validator(mode="before")
    @classmethod
    def _domain_from_url(cls, data: Any) -> Any:
        """Read a missing domain as the URL's host, like Plausible."""
        if not isinstance(data, dict) or "domain" in data or "d" in data:
            return data
        url = data.get("url", data.get("u"))
        if not isinstance(url, str):
            return data
        try:
            host = urlsplit(url.strip()).hostname
        except ValueError:
            return data
        return {**data, "domain": host} if host else data


class EventAccepted(BaseModel):
    """The answer to an accepted event: how many rows were committed, or why none were."""

    stored: int = Field(description="Events committed (one per declared domain).")
    dropped: str | None = Field(
        None, description="Why nothing was stored: bot, or excluded (the path is excluded)."
    )


PropValue = str | int | float | bool | None
# Optional on the wire, but never null: the schema says "string", not "string or null".
Absent = SkipJsonSchema[None]


class Revenue(BaseModel):
    """A revenue goal's amount (a decimal string or number) and ISO 4217 currency."""

    amount: str | float | int = Field(examples=["12.5"])
    currency: str = Field(min_length=3, max_length=3, examples=["EUR"])


class EventPayload(BaseModel):
    """The body of ``POST /api/event``, for the API documentation (:class:`EventIn` parses it).

    Plausible's Events API: give ``name``, ``url`` and ``domain``, or the tracker's short names
    ``n``, ``u`` and ``d``. Also ``revenue``/``$`` (``{"amount": "12.5", "currency": "EUR"}``),
    ``interactive``/``i`` (``false``: the event does not end a bounce), and Plausible's
    ``engagement`` events' ``sd`` (scroll depth, 0-100) and ``e`` (engaged milliseconds).
    Other keys (``w``...) are ignored. Invalid parts are dropped and the rest kept; the
    ``X-Avowal-Dropped`` header names them. Sent as ``application/json``, or as the same JSON in
    ``text/plain``.
    """

    model_config = ConfigDict(extra="allow", title="Event")

    name: str | Absent = Field(
        None,
        min_length=1,
        max_length=MAX_NAME,
        description="`pageview`, `engagement`, or a custom event's name (e.g. `Signup`). "
        "Short: `n`.",
        examples=["pageview"],
    )
    n: str | Absent = Field(None, min_length=1, max_length=MAX_NAME, description="`name`.")
    url: str | Absent = Field(
        None,
        min_length=1,
        max_length=MAX_URL,
        description="The page's http(s) address (or an app's, e.g. capacitor://localhost/). "
        "Short: `u`.",
        examples=["https://example.com/pricing"],
    )
    u: str | Absent = Field(None, min_length=1, max_length=MAX_URL, description="`url`.")
    domain: str | Absent = Field(
        None,
        min_length=1,
        max_length=MAX_DOMAINS,
        description="The counted site's domain, or several, comma-separated; the URL's host if "
        "absent. Short: `d`.",
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
    revenue: Revenue | Absent = Field(
        None, description="A revenue goal's amount and currency. Short: `$`."
    )
    interactive: bool | Absent = Field(
        None, description="`false`: the event does not end a bounce. Short: `i`."
    )
    sd: int | Absent = Field(None, description="Engagement events: scroll depth, 0-100.")
    e: int | Absent = Field(None, description="Engagement events: engaged milliseconds.")

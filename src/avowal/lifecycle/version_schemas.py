"""What the version pages answer in JSON: the published versions and the diff of two."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field

from avowal.lifecycle.diff import Change, TextChange
from avowal.lifecycle.versions import State


class VersionRef(BaseModel):
    """A published version: its id, when it takes effect, and what its publisher said of it."""

    version_id: str = Field(description="The SHA-256 of the policy's canonical JSON.")
    short_id: str = Field(description="The short form shown to readers.")
    effective: dt.date = Field(description="The day it takes effect, as the page states.")
    effective_at: dt.datetime = Field(description="The moment servers start enforcing it.")
    published_at: dt.datetime
    summary: str | None = Field(description="What changes, in the publisher's words.")
    material: bool = Field(description="It changes the policy materially against its predecessor.")


class VersionRead(VersionRef):
    """A published version in the list, with its state now and links to its page and changes."""

    state: State = Field(description="in_effect, upcoming or superseded, at the time of asking.")
    predecessor: str | None = Field(description="The version its changes are shown against.")
    page: str = Field(description="The URL of its human-readable page.")
    changes: str | None = Field(description="The URL of its changes against its predecessor.")


class VersionList(BaseModel):
    """Every published version, newest first."""

    in_effect: str | None = Field(description="The id of the version in effect now.")
    versions: list[VersionRead]


class VersionDiff(BaseModel):
    """The changes from one published version to another, classified."""

    from_version: VersionRef
    to_version: VersionRef
    material: bool = Field(description="At least one change needs people's explicit consent.")
    changes: list[Change] = Field(description="Structured changes, by area in reading order.")
    text: list[TextChange] = Field(description="The page's text changes, section by section.")

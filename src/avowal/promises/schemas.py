"""The promise ledger as the internal review reports it."""

from __future__ import annotations

import datetime as dt

from pydantic import BaseModel, Field


class PromiseReview(BaseModel):
    """One promise the policy states, and where it stands."""

    id: str
    statement: str
    kind: str = Field(description="enforced (by software) or organisational (attested).")
    status: str
    kept: bool
    flagged: bool = Field(description="Not kept, not attested, or attested over a year ago.")
    detail: str | None = Field(None, description="What to configure, or what is missing.")
    attested_by: str | None = None
    attested_at: dt.datetime | None = None

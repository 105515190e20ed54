"""One difference between two policies, before it is classified: where, what, and its summary."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from pydantic import JsonValue


class Area(StrEnum):
    """The part of a policy a change is in; each member's label is how a reader sees it."""

    collection_point = "collection_point"
    field = "field"
    category = "category"
    purpose = "purpose"
    recipient = "recipient"
    cookie = "cookie"
    retention = "retention"
    children = "children"
    role = "role"
    commitments = "commitments"
    changes_rule = "changes_rule"
    legal = "legal"
    analytics = "analytics"
    security = "security"
    staff = "staff"
    organisation = "organisation"
    other = "other"

    @property
    def label(self) -> str:
        """Return the area's name for readers."""
        return AREA_LABELS[self]


AREA_LABELS: dict[Area, str] = {
    Area.collection_point: "Collection points",
    Area.field: "Fields collected",
    Area.category: "Data categories",
    Area.purpose: "Purposes",
    Area.recipient: "Recipients",
    Area.cookie: "Cookies",
    Area.retention: "Retention",
    Area.children: "Children",
    Area.role: "Staff roles",
    Area.commitments: "Commitments",
    Area.changes_rule: "How changes are announced",
    Area.legal: "Legal disclosures",
    Area.analytics: "Analytics",
    Area.security: "Security",
    Area.staff: "Staff access",
    Area.organisation: "Organisation",
    Area.other: "Other",
}


class Kind(StrEnum):
    """What happened to the thing a change names."""

    added = "added"
    removed = "removed"
    changed = "changed"


@dataclass(frozen=True)
class Delta:
    """A difference found by comparing two policies, not yet judged material or not.

    ``path`` locates it in the policy file (``("collection_points", "registration",
    "field_purposes", "email")``) so that rules need not parse ``key``.
    """

    area: Area
    key: str
    kind: Kind
    before: JsonValue
    after: JsonValue
    path: tuple[str, ...]
    summary: str

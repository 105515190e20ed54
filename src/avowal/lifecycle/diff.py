"""What changed between two policies, each change classified material or not, and the page's text.

:func:`diff` is pure: two loaded policies in, a :class:`PolicyDiff` out. Publishing stores its
``material`` and ``changes``; the version pages and ``avowal policy diff`` show it.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, JsonValue

from avowal.lifecycle import material as rules
from avowal.lifecycle.compare import compare
from avowal.lifecycle.delta import Area, Kind
from avowal.lifecycle.textdiff import text_changes
from avowal.policy.loader import LoadedPolicy

__all__ = ["Area", "Change", "Kind", "PolicyDiff", "TextChange", "TextLine", "diff"]


class Change(BaseModel):
    """One structured change between two policies, classified."""

    model_config = ConfigDict(frozen=True)

    area: Area = Field(description="The part of the policy it is in.")
    key: str = Field(description="What changed, dotted: `registration.email`, `children.under`.")
    kind: Kind
    before: JsonValue = Field(None, description="The value before, short (null if added).")
    after: JsonValue = Field(None, description="The value after, short (null if removed).")
    material: bool = Field(description="It needs people's explicit consent, not continued use.")
    rule: str | None = Field(None, description="The material-change rule that applies, if any.")
    reason: str = Field("", description="Why it is material, or not, in plain words.")
    summary: str = Field(description="The change in one line a person can read.")

    def as_json(self) -> dict[str, object]:
        """Return the change as plain JSON-able data, as a published version stores it."""
        return self.model_dump(mode="json")


class TextLine(BaseModel):
    """A line of the page removed or added."""

    model_config = ConfigDict(frozen=True)

    op: Literal["removed", "added"]
    text: str


class TextChange(BaseModel):
    """A section of the human-readable page whose text changed."""

    model_config = ConfigDict(frozen=True)

    section: str = Field(description="The section's anchor on the page, e.g. `collection`.")
    heading: str
    kind: Kind
    lines: list[TextLine]


class PolicyDiff(BaseModel):
    """The changes from one policy version to another."""

    model_config = ConfigDict(frozen=True)

    old_version: str
    new_version: str
    material: bool = Field(description="At least one change is material.")
    changes: list[Change] = Field(description="Structured changes, by area in reading order.")
    text: list[TextChange] = Field(description="The page's text changes, section by section.")

    def material_changes(self) -> list[Change]:
        """Return the material changes only."""
        return [c for c in self.changes if c.material]

    def by_area(self) -> list[tuple[Area, list[Change]]]:
        """Group the changes by area, in the areas' order."""
        groups = [(area, [c for c in self.changes if c.area is area]) for area in Area]
        return [(area, changes) for area, changes in groups if changes]


def classify(old: LoadedPolicy, new: LoadedPolicy) -> list[Change]:
    """Return the structured changes from ``old`` to ``new``, each judged by the rules."""
    pair = rules.Pair(old, new)
    out: list[Change] = []
    for delta in compare(old.policy, new.policy):
        rule, verdict = rules.judge(delta, pair)
        out.append(
            Change(
                area=delta.area,
                key=delta.key,
                kind=delta.kind,
                before=delta.before,
                after=delta.after,
                material=verdict.material,
                rule=rule.code if rule is not None and verdict.material else None,
                reason=verdict.reason,
                summary=delta.summary,
            )
        )
    order = list(Area)
    return sorted(out, key=lambda c: order.index(c.area))


def diff(old: LoadedPolicy, new: LoadedPolicy) -> PolicyDiff:
    """Compare two policies: the classified changes, and the text changes of the page."""
    changes = classify(old, new)
    text = [
        TextChange(
            section=s.id,
            heading=s.heading,
            kind=Kind(s.kind),
            lines=[TextLine(op=op, text=line) for op, line in s.lines],
        )
        for s in text_changes(old, new)
    ]
    return PolicyDiff(
        old_version=old.version_id,
        new_version=new.version_id,
        material=any(c.material for c in changes),
        changes=changes,
        text=text,
    )

"""What `avowal policy check` found in one file, written for a person or for a program."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from avowal.policy.exceptions import Problem

if TYPE_CHECKING:
    from avowal.policy.loader import LoadedPolicy

WARNING = "warning: "


def _count(n: int, what: str) -> str:
    return f"{n} {what}{'s' if n != 1 else ''}"


def _item(p: Problem) -> dict[str, Any]:
    return {
        "path": p.location,
        "message": p.message,
        "suggestion": p.suggestion,
        "line": p.line,
        "column": p.column,
        "promise": p.promise,
    }


@dataclass(frozen=True)
class Report:
    """Every problem and warning of one policy file, and the policy when it is valid."""

    filename: str
    problems: list[Problem]
    warnings: list[Problem] = field(default_factory=list)
    loaded: LoadedPolicy | None = None
    # False when a problem kept the semantic checks (keys, promises) from running at all.
    checked: bool = True

    @property
    def valid(self) -> bool:
        """Tell whether the policy can be used (warnings do not count)."""
        return not self.problems

    def failed(self, strict: bool) -> bool:
        """Tell whether the check fails: a problem, or with ``strict`` a warning too."""
        return not self.valid or (strict and bool(self.warnings))

    def as_json(self) -> dict[str, Any]:
        """Return the report for editors and CI."""
        return {
            "file": self.filename,
            "valid": self.valid,
            "problems": [_item(p) for p in self.problems],
            "warnings": [_item(w) for w in self.warnings],
        }

    def text(self, strict: bool) -> tuple[list[str], list[str]]:
        """Return the lines for standard output and for standard error."""
        name = self.filename
        err = [p.render(name) for p in self.problems]
        err += [w.render(name, label=WARNING) for w in self.warnings]
        if not self.checked:
            err.append(
                f"{name}: the other checks (taxonomy keys, cross-references, promises) run "
                "once the problems above are fixed"
            )
        counts = []
        if self.problems:
            counts.append(_count(len(self.problems), "problem"))
        if self.warnings:
            counts.append(_count(len(self.warnings), "warning"))
        if self.loaded is None:
            return [], [*err, f"{name}: {', '.join(counts)}"]
        if self.warnings:
            refused = " (refused by --strict)" if strict else ""
            err.append(f"{name}: {', '.join(counts)}{refused}")
        p = self.loaded.policy
        out = (
            f"{name}: valid policy of {p.organisation.name}, version "
            f"{self.loaded.version_id[:12]} ({len(p.collection_points)} collection points, "
            f"{len(p.recipients)} recipients, {len(p.cookies)} cookies, "
            f"{len(p.staff.roles)} staff roles)"
        )
        return [out], err


class Output(StrEnum):
    """How `avowal policy check` writes its report."""

    text = "text"
    json = "json"

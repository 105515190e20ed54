"""Run the semantic checks on the part of a file the schema accepts.

A file with a schema problem still deserves its other problems in the same run. What the schema
refuses is taken out (a bad value, then the entry holding it, as far up as needed) until the rest
validates; the sections the semantic checks never read are stood in for. The checks then run on
what is left, and any problem that could come from what was taken out is dropped: one at, inside
or around a removed place, one naming a removed place or entry. What remains would be reported
the same once the schema problems are fixed.
"""

from __future__ import annotations

import copy
import re
from dataclasses import dataclass, field
from typing import Any

from pydantic import ValidationError

from avowal.policy import locations
from avowal.policy.exceptions import Problem
from avowal.policy.locations import Loc
from avowal.policy.schema_errors import data_keys, keys_at
from avowal.policy.schemas import Policy

# Sections no semantic check reads: a valid stand-in lets the checks run when they are wrong.
STAND_INS: dict[str, dict[str, Any]] = {
    "organisation": {"name": "-", "privacy_contact": "privacy@example.com"},
    "policy": {"effective": "2000-01-01"},
    "changes": {"notice_days": 0},
}
# Each round climbs one level at most (a value, then its entry); a policy is not deeper.
MAX_ROUNDS = 12
# Past this many schema errors the file is far from a policy: its other checks can wait.
MAX_ERRORS = 200


@dataclass
class Salvaged:
    """A schema-valid policy made of what the schema accepted, and what was taken out."""

    policy: Policy
    work: Any
    origins: dict[int, list[int]]
    removed: list[Loc] = field(default_factory=list)
    names: set[str] = field(default_factory=set)

    def original(self, location: str) -> Loc:
        """Map a location in the salvaged data back to the file's (list items shift)."""
        return _original(self.work, self.origins, locations.split(location))

    def keeps(self, problem: Problem, loc: Loc) -> bool:
        """Tell whether a problem found at ``loc`` cannot come from what was taken out."""
        said = f"{problem.message} {problem.promise or ''}"
        for gone in self.removed:
            if locations.within(loc, gone) or locations.within(gone, loc):
                return False
            if locations.dotted(gone) in said:
                return False
            if len(gone) == 1 and re.search(rf"\b{re.escape(str(gone[0]))}\b", said):
                return False
        return not any(f"'{name}'" in said for name in self.names)

    def located(self, problems: list[Problem], tree: Any) -> list[Problem]:
        """Return the problems that stand, at their place in the file."""
        out = []
        for p in problems:
            loc = self.original(p.location)
            if self.keeps(p, loc):
                line, column = locations.position(tree, loc)
                out.append(
                    Problem(locations.dotted(loc), p.message, p.promise, line, column, p.suggestion)
                )
        return out


def salvage(data: dict[str, Any]) -> Salvaged | None:
    """Take out what the schema refuses until the rest validates; None if nothing is left."""
    work = copy.deepcopy(data)
    origins: dict[int, list[int]] = {}
    _number(work, origins)
    removed: list[Loc] = []
    names: set[str] = set()
    defaulted: dict[Loc, list[str]] = {}
    for _ in range(MAX_ROUNDS):
        try:
            policy = Policy.model_validate(work)
        except ValidationError as exc:
            errors = exc.errors()
            if len(errors) > MAX_ERRORS:
                return None
            targets = set()
            for err in errors:
                missing = err["type"] == "missing"
                loc, _ = locations.real(work, tuple(err["loc"]), missing)
                target = loc[:-1] if missing else loc
                if not target and missing and loc and loc[0] in STAND_INS:
                    target = loc
                if not target:
                    return None
                targets.add(target)
                if err["type"] == "extra_forbidden":
                    # The key meant may be one left out, which took its default meanwhile.
                    parent = _original(work, origins, target[:-1])
                    if parent not in defaulted:
                        present = data_keys(work, target[:-1])
                        defaulted[parent] = [k for k in keys_at(target[:-1]) if k not in present]
                        removed.extend((*parent, k) for k in defaulted[parent])
            outermost = [t for t in targets if not any(t[:n] in targets for n in range(len(t)))]
            for target in sorted(outermost, key=_order, reverse=True):
                _take_out(work, origins, target, removed, names)
        else:
            return Salvaged(policy, work, origins, removed, names)
    return None


def _original(work: Any, origins: dict[int, list[int]], loc: Loc) -> Loc:
    """Map a location in the data being pruned back to the file's."""
    node = work
    out: list[str | int] = []
    for part in loc:
        if isinstance(part, int) and isinstance(node, list) and 0 <= part < len(node):
            out.append(origins[id(node)][part])
        else:
            out.append(part)
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            node = None
    return tuple(out)


def _order(loc: Loc) -> tuple[tuple[bool, Any], ...]:
    """Sort key: list items of one list from the last, so earlier indexes stay right."""
    return tuple((isinstance(p, str), p) for p in loc)


def _number(node: Any, origins: dict[int, list[int]]) -> None:
    """Remember each list's original indexes, by the list's identity."""
    if isinstance(node, dict):
        for value in node.values():
            _number(value, origins)
    elif isinstance(node, list):
        origins[id(node)] = list(range(len(node)))
        for value in node:
            _number(value, origins)


def _take_out(
    work: Any, origins: dict[int, list[int]], target: Loc, removed: list[Loc], names: set[str]
) -> None:
    """Remove (or stand in for) the value at ``target``, recording where and what it was."""
    if target[0] in STAND_INS and len(target) == 1:
        work[target[0]] = copy.deepcopy(STAND_INS[str(target[0])])
        return
    removed.append(_original(work, origins, target))
    parent: Any = work
    for part in target[:-1]:
        parent = parent[part]
        # What holds the value is changed too: problems naming it may come from the change.
        if isinstance(part, str):
            names.add(part)
        names.update(_names(parent))
    last = target[-1]
    value = parent.pop(last)
    if isinstance(parent, list):
        origins[id(parent)].pop(int(last))
    else:
        names.add(str(last))
    names.update(_names(value))


def _names(value: Any) -> set[str]:
    """Return the names an entry goes by: itself if text, else its name or key."""
    if isinstance(value, str):
        return {value}
    if isinstance(value, dict):
        return {value[k] for k in ("name", "key") if isinstance(value.get(k), str)}
    return set()

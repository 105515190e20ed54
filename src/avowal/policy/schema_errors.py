"""Turn Pydantic's validation errors into problems a person can act on.

Pydantic speaks of its own machinery (``String should match pattern '^(session|...)$'``, one
line per member of a union, ``Field required``); a person editing a policy needs the place, what
is expected there with an example, and the name they probably meant. One mistake is one problem:
the errors Pydantic gives for one place are one problem, a mistyped required key is one unknown
key (not also a missing one), and the missing top-level sections are named together.
"""

from __future__ import annotations

import re
import types
from collections.abc import Sequence
from typing import Annotated, Any, Union, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import ErrorDetails

from avowal.policy import locations
from avowal.policy.exceptions import Problem
from avowal.policy.locations import Loc
from avowal.policy.schemas import FORMATS, Policy
from avowal.policy.suggest import close, did_you_mean

UNKNOWN_KEY = "unknown key (not part of the policy format)"
# A pattern that is a closed list of words, such as ^(banner|email|posting)$.
_CHOICES = re.compile(r"^\^\(([a-z0-9_|]+)\)\$$")
_QUOTED = re.compile(r"'([^']*)'")


def required_sections() -> list[str]:
    """Return the top-level sections every policy file must have, in the format's order."""
    return [name for name, field in Policy.model_fields.items() if field.is_required()]


def _unwrap(annotation: Any) -> Any:
    """Strip ``Annotated`` and ``| None`` off a field's type."""
    while True:
        origin = get_origin(annotation)
        if origin is Annotated:
            annotation = get_args(annotation)[0]
        elif origin in (Union, types.UnionType):
            members = [a for a in get_args(annotation) if a is not type(None)]
            if len(members) != 1:
                return annotation
            annotation = members[0]
        else:
            return annotation


def keys_at(loc: Loc) -> list[str]:
    """Return the keys the format allows in the mapping at ``loc`` (none if it is not a model)."""
    current: Any = Policy
    for part in loc:
        current = _unwrap(current)
        if isinstance(current, type) and issubclass(current, BaseModel):
            field = current.model_fields.get(str(part))
            if field is None:
                return []
            current = field.annotation
        elif get_origin(current) is dict:
            current = get_args(current)[1]
        elif get_origin(current) is list:
            current = get_args(current)[0]
        else:
            return []
    current = _unwrap(current)
    if isinstance(current, type) and issubclass(current, BaseModel):
        return list(current.model_fields)
    return []


def _shown(value: Any) -> str:
    """Show an input value briefly, as it appeared in the file."""
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    text = repr(value) if isinstance(value, str) else str(value)
    return text if len(text) <= 60 else text[:57] + "..."


def _message(err: ErrorDetails, about_key: bool, key: str | int) -> tuple[str, str | None]:
    """Word one error; return the message and the best suggestion, if any."""
    kind, value, ctx = err["type"], err.get("input"), err.get("ctx") or {}
    suggestion: list[str] = []
    if kind == "string_pattern_mismatch":
        pattern = str(ctx.get("pattern", ""))
        wanted = FORMATS.get(pattern, f"the expected format is {pattern}")
        choices = _CHOICES.match(pattern)
        if choices is not None and isinstance(value, str):
            suggestion = close(value, choices.group(1).split("|"))
        subject = f"the name '{key}'" if about_key else _shown(value)
        message = f"{subject} is not valid: {wanted}"
    elif kind == "enum":
        expected = _QUOTED.findall(str(ctx.get("expected", "")))
        if isinstance(value, str):
            suggestion = close(value, expected)
        message = f"{_shown(value)} is not one of {', '.join(expected)}"
    elif kind in ("model_type", "model_attributes_type", "dict_type"):
        message = f"expected a mapping (indented `key: value` lines), not {_shown(value)}"
    elif kind == "list_type":
        message = f"expected a list (`- item` lines or [a, b]), not {_shown(value)}"
    elif kind == "string_type":
        message = f"expected text, not {_shown(value)}"
    elif kind in ("int_type", "int_parsing", "int_from_float"):
        message = f"expected a whole number, not {_shown(value)}"
    elif kind in ("bool_type", "bool_parsing"):
        message = f"expected true or false, not {_shown(value)}"
    elif kind in ("date_type", "date_parsing", "date_from_datetime_parsing"):
        message = f"expected a date like 2026-01-31, not {_shown(value)}"
    elif kind in ("greater_than_equal", "less_than_equal"):
        bound = "at least" if kind == "greater_than_equal" else "at most"
        message = f"must be {bound} {ctx.get('ge', ctx.get('le'))}, not {_shown(value)}"
    elif kind == "too_short":
        least = ctx.get("min_length")
        message = f"must have at least {least} entr{'y' if least == 1 else 'ies'}"
    elif kind == "string_too_short":
        message = "must not be empty"
    elif kind == "string_too_long":
        message = f"is longer than {ctx.get('max_length')} characters"
    elif kind == "url_parsing":
        message = f"{_shown(value)} is not a URL like https://example.com ({ctx.get('error')})"
    elif kind == "missing":
        message = "required, but missing"
    else:
        message = err["msg"].removeprefix("Value error, ")
    return message + did_you_mean(suggestion), suggestion[0] if suggestion else None


def problems(errors: Sequence[ErrorDetails], data: Any, tree: Any) -> list[Problem]:
    """Return one problem per mistake in Pydantic's ``errors`` about ``data`` (read from ``tree``).

    Errors at the same place (the members of a union) become one problem; an unknown key that is
    a mistyped required key hides that key's "missing"; every problem gets its line and column.
    """
    grouped: dict[Loc, list[tuple[ErrorDetails, bool]]] = {}
    for err in errors:
        loc, about_key = locations.real(data, tuple(err["loc"]), err["type"] == "missing")
        grouped.setdefault(loc, []).append((err, about_key))
    missing = {loc for loc, errs in grouped.items() if errs[0][0]["type"] == "missing"}
    # The names a mistyped key may have meant, once per mapping (a file may have thousands).
    meant_at: dict[Loc, list[str]] = {}
    out: list[Problem] = []
    for loc, errs in grouped.items():
        if loc in missing:
            continue  # reported below, unless an unknown key stands for it
        err, about_key = errs[0]
        parent, key = loc[:-1], loc[-1] if loc else ""
        if err["type"] == "extra_forbidden" and isinstance(key, str):
            if parent not in meant_at:
                present = data_keys(data, parent)
                meant_at[parent] = [k for k in keys_at(parent) if k not in present]
            matches = close(key, meant_at[parent])
            lacking = [m for m in matches if (*parent, m) in missing][:1]
            message = UNKNOWN_KEY + did_you_mean(lacking or matches)
            for meant in lacking:
                missing.discard((*parent, meant))
                message += f" ('{meant}' is required and missing)"
            best = (lacking or matches)[0] if matches else None
            out.append(_located(tree, loc, message, best))
            continue
        worded = [_message(e, k, key) for e, k in errs]
        messages = list(dict.fromkeys(m for m, _ in worded))
        message = messages[0] if len(messages) == 1 else "; or ".join(messages)
        out.append(_located(tree, loc, message, next((s for _, s in worded if s), None)))
    out.extend(_missing(tree, sorted(missing, key=locations.dotted)))
    return sorted(out, key=lambda p: (p.line or 0, p.location))


def _missing(tree: Any, missing: list[Loc]) -> list[Problem]:
    """Word the missing keys; the missing top-level sections are one problem naming them all."""
    required = required_sections()
    absent = {str(loc[0]) for loc in missing if len(loc) == 1}
    sections = [s for s in required if s in absent]
    out = [
        _located(tree, loc, f"required key '{loc[-1]}' is missing", None)
        for loc in missing
        if len(loc) > 1
    ]
    if len(sections) == 1:
        message = f"required section '{sections[0]}' is missing"
        out.append(Problem(sections[0], message + f" (required sections: {', '.join(required)})"))
    elif sections:
        names = ", ".join(f"'{s}'" for s in sections)
        out.append(
            Problem(
                "",
                f"required sections {names} are missing (required sections: {', '.join(required)})",
            )
        )
    return out


def data_keys(data: Any, loc: Loc) -> set[str]:
    """Return the keys present in the mapping at ``loc`` of the plain data."""
    node = data
    for part in loc:
        try:
            node = node[part]
        except (KeyError, IndexError, TypeError):
            return set()
    return {str(k) for k in node} if isinstance(node, dict) else set()


def _located(tree: Any, loc: Loc, message: str, suggestion: str | None) -> Problem:
    line, column = locations.position(tree, loc)
    return Problem(locations.dotted(loc), message, line=line, column=column, suggestion=suggestion)

"""Locations in a policy file: dotted paths (``cookies[1].lifetime``) and their line and column."""

from __future__ import annotations

from typing import Any

Loc = tuple[str | int, ...]


def dotted(loc: Loc) -> str:
    """Write a location as a person reads it: ``collection_points.contact.fields[0]``."""
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + part
    return out


def split(location: str) -> Loc:
    """Read a dotted location back into its parts (the inverse of :func:`dotted`)."""
    parts: list[str | int] = []
    for piece in location.split("."):
        while "[" in piece:
            head, _, rest = piece.partition("[")
            if head:
                parts.append(head)
            idx, _, piece = rest.partition("]")
            parts.append(int(idx))
        if piece:
            parts.append(piece)
    return tuple(parts)


def within(loc: Loc, ancestor: Loc) -> bool:
    """Tell whether ``loc`` is ``ancestor`` or lies inside it."""
    return loc[: len(ancestor)] == ancestor


def position(tree: Any, loc: Loc) -> tuple[int | None, int | None]:
    """Find the 1-based line and column of ``loc`` in the parsed YAML, as deep as it exists."""
    node = tree
    line: int | None = None
    col: int | None = None
    for part in loc:
        lc = getattr(node, "lc", None)
        try:
            if lc is not None and isinstance(node, dict) and part in node:
                line, col = lc.key(part)
            elif lc is not None and isinstance(node, list) and isinstance(part, int):
                line, col = lc.item(part)
            else:
                break
            node = node[part]
        except (KeyError, IndexError, TypeError):
            break
    if line is None:
        return None, None
    return line + 1, col + 1 if col is not None else None


def real(data: Any, loc: Loc, missing: bool = False) -> tuple[Loc, bool]:
    """Keep the parts of a Pydantic error location that exist in ``data``.

    Pydantic adds parts of its own to a location: the member of a union it tried (``str``,
    ``Children``, ``function-after[...]``) and ``[key]`` for a mapping's key. Those name no place
    in the file, so they are dropped; the key of a ``missing`` error (the last part) is kept.
    Return the location and whether the error is about the last part's key rather than its value.
    """
    node = data
    out: list[str | int] = []
    about_key = False
    for i, part in enumerate(loc):
        if part == "[key]":
            about_key = True
        elif _has(node, part):
            out.append(part)
            node = node[part]
        elif missing and i == len(loc) - 1:
            out.append(part)
    return tuple(out), about_key


def _has(node: Any, part: str | int) -> bool:
    """Tell whether a mapping has the key, or a list the index, ``part``."""
    if isinstance(node, dict):
        return part in node
    return isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node)

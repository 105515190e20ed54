"""Text that can be stored and encoded: one rule for every input path.

A lone surrogate (``"\\ud800"`` in JSON), a noncharacter or NUL cannot be encoded as UTF-8 or
stored by PostgreSQL; one such string in a batch would fail every other row with it. Inputs are
checked here at the edge (refused with a 4xx naming the field) or, where a lossy copy is the
promise (analytics), cleaned.
"""

from __future__ import annotations

import re
from array import array
from itertools import accumulate
from typing import Annotated, Any

from pydantic import AfterValidator

from avowal.lib.errors import AvowalError

# NUL, the surrogate block (only ever alone in a Python str), and the Unicode noncharacters, as
# the inside of a regular-expression character class (for callers that add to it).
UNSTORABLE = "\x00\ud800-\udfff\ufdd0-\ufdef\ufffe\uffff" + "".join(
    f"{chr(p << 16 | 0xFFFE)}{chr(p << 16 | 0xFFFF)}" for p in range(1, 17)
)
_BAD = re.compile(f"[{UNSTORABLE}]")
MAX_DEPTH = 32
# A JSON string (escapes included); brackets as +1 (opening) and -1 (closing), the rest dropped.
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"', re.DOTALL)
_NOT_BRACKETS = bytes(b for b in range(256) if b not in b"[]{}")
_STEPS = bytes.maketrans(b"[{]}", b"\x01\x01\xff\xff")


class InvalidText(AvowalError):
    """A string holds a character that cannot be stored (NUL, a lone surrogate, a noncharacter)."""

    status_code = 400
    error = "invalid_text"


class TooDeep(AvowalError):
    """Nested input deeper than avowal accepts anywhere."""

    status_code = 400
    error = "too_deeply_nested"


def problem(value: str) -> str | None:
    """Describe the first character of ``value`` that cannot be stored, or return None."""
    found = _BAD.search(value)
    if found is None:
        return None
    return f"U+{ord(found.group()):04X} at position {found.start()} cannot be stored"


def first_bad(value: str) -> int | None:
    """Return the index of the first character of ``value`` that cannot be stored, or None."""
    found = _BAD.search(value)
    return None if found is None else found.start()


def check(value: str, where: str) -> str:
    """Return ``value`` unchanged, or refuse it naming ``where`` and the offending character."""
    reason = problem(value)
    if reason is not None:
        raise InvalidText(f"{where}: {reason}", field=where)
    return value


def clean(value: str) -> str:
    """Return ``value`` with every character that cannot be stored replaced by U+FFFD."""
    return _BAD.sub("\ufffd", value)


def check_tree(value: Any, where: str, max_depth: int = MAX_DEPTH, _depth: int = 0) -> Any:
    """Refuse a decoded JSON value nested deeper than ``max_depth`` or holding unstorable text."""
    if _depth > max_depth:
        raise TooDeep(f"{where}: nested deeper than {max_depth} levels", field=where)
    if isinstance(value, str):
        return check(value, where)
    if isinstance(value, dict):
        for key, item in value.items():
            check(str(key), f"{where}.{clean(str(key))}")
            check_tree(item, f"{where}.{clean(str(key))}", max_depth, _depth + 1)
    elif isinstance(value, list):
        for i, item in enumerate(value):
            check_tree(item, f"{where}[{i}]", max_depth, _depth + 1)
    return value


def json_too_deep(data: bytes | str, max_depth: int = MAX_DEPTH) -> bool:
    """Say whether JSON text nests arrays and objects deeper than ``max_depth``, without parsing.

    Cheap enough for every request body: a body with few brackets is answered by two counts;
    otherwise strings are blanked out and the deepest point is a running sum over the brackets
    (+1, -1), computed in C. Unclosed brackets count as a parser would meet them.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return False
    steps = array("b", _JSON_STRING.sub(b"", raw).translate(_STEPS, _NOT_BRACKETS))
    return max(accumulate(steps), default=0) > max_depth


_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}:,]', re.DOTALL)


def too_deep_at(data: bytes | str, where: str, max_depth: int = MAX_DEPTH) -> TooDeep:
    """Return the refusal of JSON text too deep, naming where it crosses ``max_depth``.

    For the refusal only (after :func:`json_too_deep`): a light scan of strings and
    punctuation follows the keys and indexes down to the first container past the limit.
    """
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    # One frame per open container: its index (None in an object), its key, a key expected.
    frames: list[list[Any]] = []
    path = where
    for match in _TOKEN.finditer(raw):
        token = match.group()
        if token in (b"{", b"["):
            if len(frames) >= max_depth:
                path = where + "".join(
                    f".{key}" if index is None else f"[{index}]" for index, key, _ in frames
                )
                break
            frames.append([0 if token == b"[" else None, "", token == b"{"])
        elif not frames:
            continue
        elif token in (b"]", b"}"):
            frames.pop()
        elif token == b",":
            if frames[-1][0] is None:
                frames[-1][2] = True
            else:
                frames[-1][0] += 1
        elif token == b":":
            frames[-1][2] = False
        elif frames[-1][0] is None and frames[-1][2]:
            frames[-1][1] = clean(token[1:-1].decode("utf-8", "replace"))[:40]
    if len(path) > 200:
        path = path[:200] + "..."
    return TooDeep(
        f"{path}: nested deeper than {max_depth} levels; nothing was stored",
        field=path,
        limit=max_depth,
    )


def _validate(value: str) -> str:
    reason = problem(value)
    if reason is not None:
        raise ValueError(reason)
    return value


# A pydantic string that refuses unstorable characters with a validation error naming the field.
StoredStr = Annotated[str, AfterValidator(_validate)]

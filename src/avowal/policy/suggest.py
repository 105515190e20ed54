"""Suggest what a mistyped name was meant to be: the closest known names, best first."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# difflib's own default: close enough that a suggestion is more help than noise.
CUTOFF = 0.6
MOST = 3
# How much less close than the best another name may be and still be offered.
NEAR = 0.05


def close(word: str, known: Iterable[str]) -> list[str]:
    """Return up to three known names closest to ``word``, best first (none for an exact name)."""
    names = sorted(set(known))
    if word in names:
        return []
    matches = difflib.get_close_matches(word, names, n=MOST, cutoff=CUTOFF)
    if not matches:
        return []
    # Only the names about as close as the best one: a clear winner is offered alone.
    best = _ratio(word, matches[0])
    return [m for m in matches if _ratio(word, m) >= best - NEAR]


def _ratio(a: str, b: str) -> float:
    return difflib.SequenceMatcher(None, a, b).ratio()


def did_you_mean(matches: list[str]) -> str:
    """Phrase matches as a question to append to a message; empty when there is none."""
    if not matches:
        return ""
    quoted = [f"'{m}'" for m in matches]
    options = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + " or " + quoted[-1]
    return f" — did you mean {options}?"

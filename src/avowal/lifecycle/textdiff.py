"""The text changes of the human-readable page between two policies, section by section."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from difflib import SequenceMatcher
from typing import Literal

from avowal.policy import document
from avowal.policy.content import Block, Bullets, Inline, Line, Paragraph, Quote
from avowal.policy.loader import LoadedPolicy


@dataclass(frozen=True)
class SectionText:
    """A section of the page as plain lines: a paragraph, a list item or a table row each."""

    id: str
    heading: str
    lines: tuple[str, ...]


Op = Literal["removed", "added"]


@dataclass(frozen=True)
class SectionChange:
    """A section added, removed or changed, with its lines removed and added in reading order."""

    id: str
    heading: str
    kind: Literal["added", "removed", "changed"]
    lines: tuple[tuple[Op, str], ...]


def _inline(part: Inline) -> str:
    return part if isinstance(part, str) else part.text


def _line(parts: Line) -> str:
    return "".join(_inline(p) for p in parts)


def _block(block: Block) -> list[str]:
    if isinstance(block, Paragraph | Quote):
        return [_line(block.parts)]
    if isinstance(block, Bullets):
        return [f"• {_line(item)}" for item in block.items]
    header = f"{block.caption}: " + " | ".join(block.columns)
    return [header, *(" | ".join(_line(cell) for cell in row) for row in block.rows)]


def _lines(blocks: tuple[Block, ...]) -> tuple[str, ...]:
    return tuple(text for block in blocks for text in _block(block))


def sections(loaded: LoadedPolicy) -> list[SectionText]:
    """Return the page's sections, and each subsection apart, as plain text lines.

    A subsection (a collection point, a recipient...) is matched by its anchor, so one that only
    moves on the page is no change of text.
    """
    out: list[SectionText] = []
    for section in document.build(loaded).sections:
        out.append(SectionText(section.id, section.heading, _lines(section.blocks)))
        for sub in section.subsections:
            heading = f"{section.heading}: {sub.heading}"
            out.append(SectionText(sub.id, heading, _lines(sub.blocks)))
    return out


def _normalised(lines: tuple[str, ...], loaded: LoadedPolicy) -> list[str]:
    # The page names its own version id; that is no change of wording.
    short = document.short_version(loaded.version_id)
    return [line.replace(short, "\x00") for line in lines]


def _op(op: Op, lines: tuple[str, ...]) -> list[tuple[Op, str]]:
    return [(op, line) for line in lines]


def _changed_lines(
    was: SectionText, now: SectionText, old: LoadedPolicy, new: LoadedPolicy
) -> list[tuple[Op, str]]:
    """Return the lines removed and added, in reading order, leaving out lines that only moved."""
    a, b = _normalised(was.lines, old), _normalised(now.lines, new)
    hunks = [
        (range(i1, i2), range(j1, j2))
        for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes()
        if op != "equal"
    ]
    # A line removed in one place and added in another only moved: no change of wording.
    moved = Counter(a[i] for gone, _ in hunks for i in gone)
    moved &= Counter(b[j] for _, came in hunks for j in came)
    skip_removed, skip_added = Counter(moved), Counter(moved)
    out: list[tuple[Op, str]] = []
    for gone, came in hunks:
        for i in gone:
            if skip_removed[a[i]] > 0:
                skip_removed[a[i]] -= 1
            else:
                out.append(("removed", was.lines[i]))
        for j in came:
            if skip_added[b[j]] > 0:
                skip_added[b[j]] -= 1
            else:
                out.append(("added", now.lines[j]))
    return out


def text_changes(old: LoadedPolicy, new: LoadedPolicy) -> list[SectionChange]:
    """List the sections whose text differs, with the lines removed and added."""
    before = {s.id: s for s in sections(old)}
    after = sections(new)
    out: list[SectionChange] = []
    for section in after:
        was = before.pop(section.id, None)
        if was is None:
            lines = tuple(_op("added", section.lines))
            out.append(SectionChange(section.id, section.heading, "added", lines))
            continue
        changed = _changed_lines(was, section, old, new)
        if changed:
            out.append(SectionChange(section.id, section.heading, "changed", tuple(changed)))
    for section in before.values():
        lines = tuple(_op("removed", section.lines))
        out.append(SectionChange(section.id, section.heading, "removed", lines))
    return out

"""The text changes of the human-readable page between two policies, section by section."""

from __future__ import annotations

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


def sections(loaded: LoadedPolicy) -> list[SectionText]:
    """Return the page's sections as plain text lines."""
    out: list[SectionText] = []
    for section in document.build(loaded).sections:
        lines = [text for block in section.blocks for text in _block(block)]
        for sub in section.subsections:
            lines.append(sub.heading)
            lines.extend(text for block in sub.blocks for text in _block(block))
        out.append(SectionText(section.id, section.heading, tuple(lines)))
    return out


def _normalised(lines: tuple[str, ...], loaded: LoadedPolicy) -> list[str]:
    # The page names its own version id; that is no change of wording.
    short = document.short_version(loaded.version_id)
    return [line.replace(short, "\x00") for line in lines]


def _op(op: Op, lines: tuple[str, ...]) -> list[tuple[Op, str]]:
    return [(op, line) for line in lines]


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
        a, b = _normalised(was.lines, old), _normalised(section.lines, new)
        changed: list[tuple[Op, str]] = []
        for op, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
            if op == "equal":
                continue
            changed.extend(_op("removed", was.lines[i1:i2]))
            changed.extend(_op("added", section.lines[j1:j2]))
        if changed:
            out.append(SectionChange(section.id, section.heading, "changed", tuple(changed)))
    for section in before.values():
        lines = tuple(_op("removed", section.lines))
        out.append(SectionChange(section.id, section.heading, "removed", lines))
    return out

"""The content model of the human-readable policy, shared by the HTML and Markdown renderers.

Text is kept as plain strings (never markup): each renderer escapes it for its own format.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from avowal.promises.ids import Tag


@dataclass(frozen=True)
class Strong:
    """Text to stress, such as the name of a field.

    ``category`` is the field's data category key: the HTML page keeps it in a ``data-``
    attribute for tools, while readers see only the field's own name.
    """

    text: str
    kind: Literal["strong"] = "strong"
    category: str | None = None


@dataclass(frozen=True)
class Code:
    """A literal name, such as a cookie's."""

    text: str
    kind: Literal["code"] = "code"


@dataclass(frozen=True)
class Link:
    """A link; the text of a mailto link is the address itself, so print keeps it."""

    text: str
    href: str
    kind: Literal["link"] = "link"


Inline = str | Strong | Code | Link
Line = tuple[Inline, ...]


# Every block says what it is: a promise of the registry (avowal.promises.registry) or "info".


@dataclass(frozen=True)
class Paragraph:
    parts: Line
    promise: Tag
    kind: Literal["paragraph"] = "paragraph"


@dataclass(frozen=True)
class Quote:
    """Text quoted verbatim from the policy file, such as the confidentiality agreement."""

    parts: Line
    promise: Tag
    kind: Literal["quote"] = "quote"


@dataclass(frozen=True)
class Bullets:
    items: tuple[Line, ...]
    promises: tuple[Tag, ...]
    kind: Literal["bullets"] = "bullets"


@dataclass(frozen=True)
class Table:
    caption: str
    columns: tuple[str, ...]
    rows: tuple[tuple[Line, ...], ...]
    promise: Tag
    kind: Literal["table"] = "table"


Block = Paragraph | Quote | Bullets | Table


@dataclass(frozen=True)
class Subsection:
    id: str
    heading: str
    blocks: tuple[Block, ...]


@dataclass(frozen=True)
class Section:
    id: str
    heading: str
    blocks: tuple[Block, ...]
    subsections: tuple[Subsection, ...] = ()


@dataclass(frozen=True)
class Document:
    """The whole human-readable policy, section by section."""

    title: str
    organisation: str
    effective: str
    effective_iso: str
    version: str
    version_id: str
    sections: tuple[Section, ...] = field(default_factory=tuple)


class Blocks:
    """Collect the blocks of a section in reading order."""

    def __init__(self) -> None:
        self.items: list[Block] = []

    def para(self, *parts: Inline, promise: Tag) -> None:
        """Add a paragraph stating ``promise`` (or ``"info"``)."""
        self.items.append(Paragraph(tuple(parts), promise))

    def quote(self, *parts: Inline, promise: Tag) -> None:
        """Add a verbatim quotation stating ``promise`` (or ``"info"``)."""
        self.items.append(Quote(tuple(parts), promise))

    def bullets(self, items: list[Line], *, promise: Tag) -> None:
        """Add a bullet list whose items all state ``promise``; an empty list adds nothing."""
        self.tagged_bullets([(promise, item) for item in items])

    def tagged_bullets(self, items: list[tuple[Tag, Line]]) -> None:
        """Add a bullet list whose items each state their own promise; empty adds nothing."""
        if items:
            self.items.append(Bullets(tuple(i for _, i in items), tuple(t for t, _ in items)))

    def table(
        self,
        caption: str,
        columns: tuple[str, ...],
        rows: list[tuple[Line, ...]],
        *,
        promise: Tag,
    ) -> None:
        """Add a table with a caption and column headings, stating ``promise``."""
        self.items.append(Table(caption, columns, tuple(rows), promise))

    def done(self) -> tuple[Block, ...]:
        """Return the blocks collected so far."""
        return tuple(self.items)


@dataclass(frozen=True)
class VersionNote:
    """A published version as the page mentions it."""

    short_id: str
    effective: str
    effective_iso: str
    page: str
    changes: str | None
    material: bool
    summary: str | None


@dataclass(frozen=True)
class History:
    """The version in effect, the one announced (if any) and the earlier ones (served page)."""

    in_effect: VersionNote | None
    upcoming: tuple[VersionNote, ...]
    earlier: tuple[VersionNote, ...]

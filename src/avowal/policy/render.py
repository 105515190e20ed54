"""Render the human-readable policy as an HTML page or as Markdown, from one content model."""

from __future__ import annotations

import re
from collections.abc import Mapping
from functools import cache
from html import escape
from urllib.parse import quote

from jinja2 import Environment, PackageLoader, StrictUndefined

from avowal.lib.assets import Stylesheet
from avowal.policy import document
from avowal.policy.content import (
    Block,
    Document,
    History,
    Inline,
    Line,
    Section,
    Subsection,
)
from avowal.policy.loader import LoadedPolicy
from avowal.promises import registry
from avowal.promises.evidence import EvidenceLine
from avowal.promises.ids import PromiseId
from avowal.web import favicon

Evidence = Mapping[PromiseId, tuple[EvidenceLine, ...]]
# Where a promise's evidence goes: after a block (its id), or after one bullet item.
Spot = tuple[int, int | None]

# avowal writes the page in English whatever policy.language says (mail follows it); the
# page's lang attribute tells screen readers the truth about the words they read.
PAGE_LANGUAGE = "en"
STYLESHEET = Stylesheet("avowal.policy", "static/privacy.css", "/assets/privacy.css")
# The icon's file beside a page written to disk (`avowal policy render -o`).
FAVICON_FILE = "favicon.svg"


@cache
def _environment() -> Environment:
    # Autoescape everywhere: every value in the page comes from the policy file.
    return Environment(
        loader=PackageLoader("avowal.policy", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_html(
    loaded: LoadedPolicy,
    *,
    stylesheet_href: str | None = None,
    evidence: Evidence | None = None,
    history: History | None = None,
) -> str:
    """Render the policy as an HTML5 page linking the served stylesheet, or ``stylesheet_href``.

    ``evidence`` puts lines from avowal's records under the promises they are about (the served
    page); without it the page is static, as `avowal policy render` writes it. ``history``
    (served page) says which version is in effect, which is announced, and the earlier ones.
    """
    doc = document.build(loaded)
    spots = _place(doc, evidence or {})
    template = _environment().get_template("privacy.html")
    href = stylesheet_href or STYLESHEET.href

    def lines_at(block: Block, item: int | None = None) -> tuple[tuple[str, EvidenceLine], ...]:
        return spots.get((id(block), item), ())

    return template.render(
        doc=doc,
        stylesheet=href,
        evidence_at=lines_at,
        history=history,
        lang=PAGE_LANGUAGE,
        # A page written to disk (with its stylesheet beside it) has its icon beside it too.
        favicon=(
            {"svg": FAVICON_FILE, "ico": FAVICON_FILE}
            if stylesheet_href is not None
            else {"svg": favicon.svg_icon().href, "ico": favicon.ico_icon().href}
        ),
    )


def _containers(doc: Document, first: str | None) -> list[tuple[Block, ...]]:
    ordered = sorted(doc.sections, key=lambda s: s.id != first)
    out: list[tuple[Block, ...]] = []
    for section in ordered:
        out.append(section.blocks)
        out.extend(sub.blocks for sub in section.subsections)
    return out


def _place(doc: Document, evidence: Evidence) -> dict[Spot, tuple[tuple[str, EvidenceLine], ...]]:
    """Put each promise's lines after the last block stating it, in its own section first."""
    spots: dict[Spot, tuple[tuple[str, EvidenceLine], ...]] = {}
    for promise, lines in evidence.items():
        for blocks in _containers(doc, registry.REGISTRY[promise].section):
            spot: Spot | None = None
            for block in blocks:
                if block.kind == "bullets":
                    for i, tag in enumerate(block.promises):
                        if tag == promise:
                            spot = (id(block), i)
                elif block.promise == promise:
                    spot = (id(block), None)
            if spot is not None:
                spots[spot] = spots.get(spot, ()) + tuple((str(promise), ln) for ln in lines)
                break
    return spots


# -- Markdown ---------------------------------------------------------------------------------

_MD_SPECIAL = re.compile(r"([\\`*_\[\]<>|#&])")
_WHITESPACE = re.compile(r"\s+")
_MD_LIST_START = re.compile(r"^(\d+)([.)])|^([-+])")


def _md_text(text: str) -> str:
    # Policy text is data, not Markdown: backslash-escape everything Markdown would act on.
    return _MD_SPECIAL.sub(r"\\\1", _WHITESPACE.sub(" ", text))


def _md_code(text: str) -> str:
    text = _WHITESPACE.sub(" ", text)
    longest = max((len(run) for run in re.findall(r"`+", text)), default=0)
    fence = "`" * (longest + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{fence}{pad}{text}{pad}{fence}"


def _md_inline(part: Inline) -> str:
    if isinstance(part, str):
        return _md_text(part)
    if part.kind == "strong":
        return f"**{_md_text(part.text)}**"
    if part.kind == "code":
        return _md_code(part.text)
    href = quote(part.href, safe=":/?#=&@%+;,.~!*'-_")
    return f"[{_md_text(part.text)}]({href})"


def _md_line(parts: Line) -> str:
    text = "".join(_md_inline(p) for p in parts)
    # A paragraph that starts like a list item must stay a paragraph.
    return _MD_LIST_START.sub(lambda m: m.group(0)[:-1] + "\\" + m.group(0)[-1], text, count=1)


def _md_blocks(blocks: tuple[Block, ...]) -> list[str]:
    out: list[str] = []
    for block in blocks:
        if block.kind == "paragraph":
            out.append(_md_line(block.parts))
        elif block.kind == "quote":
            out.append("> " + _md_line(block.parts))
        elif block.kind == "bullets":
            out.append("\n".join(f"- {_md_line(item)}" for item in block.items))
        else:
            rows = [
                "| " + " | ".join(_md_text(c) for c in block.columns) + " |",
                "|" + "|".join("---" for _ in block.columns) + "|",
                *("| " + " | ".join(_md_line(cell) for cell in row) + " |" for row in block.rows),
            ]
            out.append(f"*{_md_text(block.caption)}*\n\n" + "\n".join(rows))
    return out


def _md_heading(level: int, part: Section | Subsection) -> str:
    # An empty anchor before the heading keeps the HTML page's ids (#collection, #recipient-x)
    # on every renderer: GitHub, GitLab and CommonMark show header attributes ({#id}) as text,
    # and their own heading slugs differ from the page's ids.
    return f'<a id="{escape(part.id)}"></a>\n\n{"#" * level} {_md_text(part.heading)}'


def _markdown(doc: Document) -> str:
    out = [
        f"# {_md_text(doc.title)}",
        # Readers know a version by its date; its hash is for machines (/v1/policy).
        f"{_md_text(doc.organisation)}. Version of {_md_text(doc.effective)}.",
        "## Contents",
        "\n".join(f"{i}. [{_md_text(s.heading)}](#{s.id})" for i, s in enumerate(doc.sections, 1)),
    ]
    for section in doc.sections:
        out.append(_md_heading(2, section))
        out.extend(_md_blocks(section.blocks))
        for sub in section.subsections:
            out.append(_md_heading(3, sub))
            out.extend(_md_blocks(sub.blocks))
    return "\n\n".join(out) + "\n"


def render_markdown(loaded: LoadedPolicy) -> str:
    """Render the policy as Markdown with the same sections and anchors as the HTML page."""
    return _markdown(document.build(loaded))

"""Render the internal review as JSON (stable keys), as a printable HTML page, or as the body of
another page (the console's, which links :data:`STYLESHEET` itself)."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache

from jinja2 import Environment, PackageLoader, StrictUndefined
from markupsafe import Markup

from avowal.lib.assets import Stylesheet
from avowal.review.schemas import Review

STYLESHEET = Stylesheet("avowal.review", "static/review.css", "/assets/review.css")


@cache
def _environment() -> Environment:
    # Autoescape everywhere: justifications, references and reasons are typed by people.
    return Environment(
        loader=PackageLoader("avowal.review", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


def render_json(review: Review) -> str:
    """Render the review as indented JSON, keys in the order of the schema."""
    return json.dumps(review.model_dump(mode="json"), indent=2, ensure_ascii=False) + "\n"


def render_html(
    review: Review,
    *,
    stylesheet_href: str | None = None,
    links: Sequence[tuple[str, str]] = (),
) -> str:
    """Render the review as an HTML5 page linking the served stylesheet, or ``stylesheet_href``.

    ``links`` are (href, label) pairs shown above the review on screen, never on paper.
    """
    href = stylesheet_href or STYLESHEET.href
    return (
        _environment()
        .get_template("review.html")
        .render(r=review, stylesheet=href, inline_css=None, links=list(links))
    )


def render_standalone_html(review: Review) -> str:
    """Render the review as one self-contained HTML5 file, its stylesheet inlined.

    For a page saved to disk or mailed: it keeps its screen and print styles with nothing beside
    it. (The served page links :data:`STYLESHEET` instead, as its security policy allows no
    inline style.)
    """
    return (
        _environment()
        .get_template("review.html")
        .render(r=review, stylesheet=None, inline_css=_inline_css(), links=[])
    )


@cache
def _inline_css() -> Markup:
    css = STYLESHEET.content.decode("utf-8")
    # Our own file, but a "</style" in it would end the element early and spill into the page.
    if "</style" in css.lower():
        raise ValueError(f"{STYLESHEET.resource} cannot be inlined: it contains '</style'")
    return Markup(css)


def render_fragment(review: Review) -> str:
    """Render the review's body (period, sections, colophon) for another page's layout.

    The page links :data:`STYLESHEET` for the review's screen and print styles.
    """
    return _environment().get_template("review_fragment.html").render(r=review)

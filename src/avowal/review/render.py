"""Render the internal review as JSON (stable keys) or as a printable HTML page."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from functools import cache
from importlib import resources

from jinja2 import Environment, PackageLoader, StrictUndefined

from avowal.review.schemas import Review

STYLESHEET_PATH = "/assets/review.css"


@cache
def _environment() -> Environment:
    # Autoescape everywhere: justifications, references and reasons are typed by people.
    return Environment(
        loader=PackageLoader("avowal.review", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        keep_trailing_newline=True,
    )


@cache
def stylesheet() -> bytes:
    """Return the review page's stylesheet."""
    return resources.files("avowal.review").joinpath("static/review.css").read_bytes()


@cache
def stylesheet_version() -> str:
    """Return a short hash of the stylesheet, so a changed file gets a new URL."""
    return hashlib.sha256(stylesheet()).hexdigest()[:12]


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
    href = stylesheet_href or f"{STYLESHEET_PATH}?v={stylesheet_version()}"
    return (
        _environment()
        .get_template("review.html")
        .render(r=review, stylesheet=href, links=list(links))
    )

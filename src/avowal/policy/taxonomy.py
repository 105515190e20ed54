"""The fideslang default taxonomy plus a policy's own declared keys."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from fideslang.default_taxonomy import DEFAULT_TAXONOMY

# The data use under which the law reaches personal data: legal disclosures, erasure on an
# authority's order, the disclosure register as a whole.
LEGAL_OBLIGATION = "essential.legal_obligation"
# The data use under which the site serves the person: its back end relays their requests
# (erasure, acceptances, cookie consents) and reads their records for them.
SERVING_THE_PERSON = "essential.service"


def is_within(key: str, ancestor: str) -> bool:
    """Tell whether ``key`` is ``ancestor`` or lies below it in the hierarchy.

    The one purpose rule: a value collected for a purpose may be used for that purpose and any
    narrower one, never for a broader one; a role granting a purpose grants the narrower ones.
    """
    return key == ancestor or key.startswith(ancestor + ".")


@dataclass(frozen=True)
class Node:
    key: str
    name: str
    description: str
    parent: str | None


@dataclass
class Taxonomy:
    """Data categories, data uses and data subjects known to one policy."""

    data_categories: dict[str, Node] = field(default_factory=dict)
    data_uses: dict[str, Node] = field(default_factory=dict)
    data_subjects: dict[str, Node] = field(default_factory=dict)

    def is_within(self, key: str, ancestor: str) -> bool:
        """Tell whether ``key`` is ``ancestor`` or lies below it in the hierarchy."""
        return is_within(key, ancestor)

    def label(self, kind: str, key: str) -> str:
        """Return the human name of a key, or the key itself when unknown."""
        node = getattr(self, kind).get(key)
        return node.name if node else key


@cache
def _defaults() -> tuple[dict[str, Node], dict[str, Node], dict[str, Node]]:
    def nodes(items: Sequence[Any]) -> dict[str, Node]:
        out: dict[str, Node] = {}
        for item in items:
            key = str(item.fides_key)
            out[key] = Node(
                key=key,
                name=str(item.name or key),
                description=str(item.description or ""),
                parent=getattr(item, "parent_key", None),
            )
        return out

    t = DEFAULT_TAXONOMY
    return nodes(t.data_category), nodes(t.data_use), nodes(t.data_subject)


def default_taxonomy() -> Taxonomy:
    """Return a fresh copy of the fideslang default taxonomy."""
    cats, uses, subjects = _defaults()
    return Taxonomy(dict(cats), dict(uses), dict(subjects))

"""What both directions of the Fides bridge share: names, the policy's own words for periods
and field types, and the YAML writer."""

from __future__ import annotations

import re
from collections.abc import Iterable

from pydantic import EmailStr, TypeAdapter
from ruamel.yaml import YAML

from avowal.policy.schemas import FieldType

# The mark of a gap in a starter policy: the value is empty, the comment says what goes there.
GAP_MARK = "FILL IN:"
# What the own system and the recipients' systems are, in Fides's words.
SYSTEM_TYPE = "Service"
RECIPIENT_SYSTEM_TYPE = "Third Party"
# A manifest may describe many datasets; it is read defensively all the same (loader's limits
# on nesting, aliases and values, a larger size).
MAX_MANIFEST_BYTES = 16 * 1024 * 1024

AFTER_WORDS = {
    "collection": "collection",
    "last_activity": "last activity",
    "account_closure": "account closure",
}
PERIOD = re.compile(
    r"^(?:(?P<category>[a-z0-9_]+(?:\.[a-z0-9_]+)*)\s*:\s*)?(?P<days>\d+)(?:\s*days?)?"
    r"(?:\s+after\s+(?P<after>collection|last[ _]activity|account[ _]closure))?$",
    re.IGNORECASE,
)
# A field's type, from its data category (the most specific first).
FIELD_TYPES = (
    ("user.contact.address.country", FieldType.country),
    ("user.contact.address.postal_code", FieldType.postal_code),
    ("user.contact.address", FieldType.address),
    ("user.contact.email", FieldType.email),
    ("user.contact.phone_number", FieldType.phone),
    ("user.contact.url", FieldType.url),
    ("user.financial.credit_card", FieldType.card),
    ("user.demographic.date_of_birth", FieldType.date),
    ("user.authorization.password", FieldType.password),
)
EMAIL: TypeAdapter[str] = TypeAdapter(EmailStr)
_NOT_NAME = re.compile(r"[^a-z0-9]+")


def unique(items: Iterable[str]) -> list[str]:
    """Return the items once each, in their first order."""
    return list(dict.fromkeys(items))


def name_of(text: str, taken: Iterable[str] = ()) -> str:
    """Make a policy name (``^[a-z][a-z0-9_]*$``, at most 64) of ``text``, none of ``taken``."""
    base = _NOT_NAME.sub("_", text.lower()).strip("_")[:56] or "unnamed"
    if not base[0].isalpha():
        base = f"x_{base}"
    used = set(taken)
    name, n = base, 2
    while name in used:
        name, n = f"{base}_{n}", n + 1
    return name


def writer() -> YAML:
    """Return the YAML writer of manifests and starter policies."""
    yaml = YAML()
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    return yaml

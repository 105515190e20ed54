"""The policy's contact point: where a question or a request is collected (the one rule).

A policy offers the contact form (``/privacy/contact``, ``POST /v1/cases``) when it declares a
collection point named ``contact`` with an e-mail field and a message field.
"""

from __future__ import annotations

from dataclasses import dataclass

from avowal.policy.loader import LoadedPolicy
from avowal.policy.schemas import FieldType

CONTACT = "contact"


@dataclass(frozen=True)
class ContactFields:
    """The contact point's address field and message field."""

    email: str
    message: str


def fields_of(loaded: LoadedPolicy) -> ContactFields | None:
    """Return the contact point's fields, or None when the policy has no usable one."""
    cp = loaded.policy.collection_points.get(CONTACT)
    if cp is None:
        return None
    email = next((n for n, f in cp.fields.items() if f.type is FieldType.email), None)
    message = next((n for n, f in cp.fields.items() if f.type is not FieldType.email), None)
    if email is None or message is None:
        return None
    return ContactFields(email, message)

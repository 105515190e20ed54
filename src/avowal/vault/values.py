"""Check and normalise submitted values by field type, and apply the storage rule."""

from __future__ import annotations

import datetime as dt
import re

from email_validator import EmailNotValidError, validate_email

from avowal.crypto import cipher
from avowal.policy.schemas import CollectedField, FieldType, Storage
from avowal.vault.exceptions import InvalidValue

_PHONE = re.compile(r"^\+?[0-9 ().-]{7,25}$")
_POSTAL = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 -]{1,14}$")
_URL = re.compile(r"^https?://[^\s/$.?#][^\s]*$", re.IGNORECASE)
MAX_TEXT = {FieldType.address: 500, FieldType.text: 2000}


def _bad(field: str, ftype: FieldType, why: str) -> InvalidValue:
    return InvalidValue(
        f"field '{field}' is not a valid {ftype.value}: {why}", field=field, type=ftype.value
    )


def _luhn_ok(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def normalise(name: str, spec: CollectedField, value: object) -> str:
    """Return the canonical text of a value, or refuse it naming the field and the rule."""
    ftype = spec.type
    if not isinstance(value, str):
        raise _bad(name, ftype, "a value is a string")
    value = value.strip()
    if not value:
        raise _bad(name, ftype, "it is empty")
    if ftype is FieldType.email:
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as exc:
            raise _bad(name, ftype, str(exc)) from None
    if ftype is FieldType.phone:
        digits = re.sub(r"\D", "", value)
        if not _PHONE.match(value) or not 7 <= len(digits) <= 15:
            raise _bad(name, ftype, "7 to 15 digits, optionally with +, spaces, dashes, brackets")
        return ("+" if value.startswith("+") else "") + digits
    if ftype is FieldType.card:
        digits = re.sub(r"[ -]", "", value)
        if not digits.isdigit() or not 12 <= len(digits) <= 19 or not _luhn_ok(digits):
            raise _bad(name, ftype, "12 to 19 digits passing the Luhn check")
        return digits
    if ftype is FieldType.date:
        try:
            day = dt.date.fromisoformat(value)
        except ValueError:
            raise _bad(name, ftype, "a date as YYYY-MM-DD") from None
        if not dt.date(1900, 1, 1) <= day <= dt.date.today():
            raise _bad(name, ftype, "a date between 1900-01-01 and today")
        return day.isoformat()
    if ftype is FieldType.country:
        if not re.fullmatch(r"[A-Za-z]{2}", value):
            raise _bad(name, ftype, "an ISO 3166 two-letter country code")
        return value.upper()
    if ftype is FieldType.postal_code:
        if not _POSTAL.match(value):
            raise _bad(name, ftype, "2 to 15 letters, digits, spaces or dashes")
        return value.upper()
    if ftype is FieldType.url:
        if not _URL.match(value) or len(value) > 2000:
            raise _bad(name, ftype, "an http or https address")
        return value
    limit = MAX_TEXT.get(ftype, 2000)
    if len(value) > limit:
        raise _bad(name, ftype, f"at most {limit} characters")
    return value


def stored_form(name: str, spec: CollectedField, normalised: str, index_key: bytes) -> str | None:
    """Apply the field's storage rule: what is kept of the value, or None when nothing is."""
    if spec.storage is Storage.full:
        return normalised
    if spec.storage is Storage.last4:
        return normalised[-4:]
    if spec.storage is Storage.hash:
        return cipher.keyed_hash(index_key, name, normalised)
    return None


def lookup_form(spec: CollectedField, normalised: str) -> str:
    """Return the form of a value that its blind index is computed on."""
    return normalised.lower() if spec.type is FieldType.email else normalised

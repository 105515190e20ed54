"""Passwords: the policy's strength rules and Argon2id hashing.

The hasher is a module attribute so tests can swap in lighter parameters; a stored hash made with
other parameters is upgraded at the next successful sign-in (``needs_rehash``).
"""

from __future__ import annotations

import hmac
from functools import cache

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from zxcvbn import zxcvbn  # type: ignore[import-untyped]
from zxcvbn.frequency_lists import FREQUENCY_LISTS  # type: ignore[import-untyped]

from avowal.policy.schemas import PasswordPolicy
from avowal.staff.exceptions import WeakPassword

MAX_LENGTH = 128  # ASVS 6.2.9 asks for at least 64
MIN_SCORE = 3  # zxcvbn's "safely unguessable: moderate protection from offline attacks"
_ZXCVBN_MAX = 72  # zxcvbn refuses longer input; the first 72 characters decide the score

HASHER = PasswordHasher()  # Argon2id with argon2-cffi's RFC 9106 low-memory defaults


@cache
def _common() -> frozenset[str]:
    return frozenset(FREQUENCY_LISTS["passwords"])


def check(password: str, email: str, rules: PasswordPolicy, *, confirm: str | None = None) -> None:
    """Refuse a password breaking a rule of the policy, naming the rule."""
    if confirm is not None and not hmac.compare_digest(password.encode(), confirm.encode()):
        raise WeakPassword("the two passwords differ", rule="confirmation")
    if len(password) < rules.min_length:
        raise WeakPassword(
            f"the password must have at least {rules.min_length} characters "
            f"(it has {len(password)})",
            rule="min_length",
            min_length=rules.min_length,
        )
    if len(password) > MAX_LENGTH:
        raise WeakPassword(
            f"the password may have at most {MAX_LENGTH} characters", rule="max_length"
        )
    local = email.split("@", 1)[0].lower()
    if len(local) >= 3 and local in password.lower():
        raise WeakPassword(
            "the password must not contain your e-mail address's name", rule="contains_email"
        )
    if not rules.reject_common:
        return
    if password.lower() in _common():
        raise WeakPassword("the password is among the most common passwords", rule="common")
    result = zxcvbn(password[:_ZXCVBN_MAX], user_inputs=[email, local])
    if int(result["score"]) < MIN_SCORE:
        hint = result["feedback"]["warning"] or "it would be guessed quickly"
        raise WeakPassword(
            f"the password is too easy to guess: {hint.rstrip('.')}. "
            "Use a longer phrase of unrelated words",
            rule="guessable",
        )


def hash_password(password: str) -> str:
    """Return the Argon2id hash of ``password``."""
    return HASHER.hash(password)


def verify(stored: str | None, password: str) -> bool:
    """Tell whether ``password`` matches ``stored``; without a hash, spend the same work anyway."""
    hasher = HASHER
    try:
        return hasher.verify(stored or _dummy(hasher), password) and stored is not None
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(stored: str) -> bool:
    """Tell whether ``stored`` was made with other parameters than the current hasher's."""
    return HASHER.check_needs_rehash(stored)


_DUMMIES: dict[tuple[int, int, int], str] = {}


def _dummy(hasher: PasswordHasher) -> str:
    """Return a hash with ``hasher``'s parameters, for accounts that do not exist."""
    key = (hasher.time_cost, hasher.memory_cost, hasher.parallelism)
    if key not in _DUMMIES:
        _DUMMIES[key] = hasher.hash("avowal: no such account")
    return _DUMMIES[key]

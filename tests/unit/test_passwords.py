"""Password rules of the policy, and Argon2id hashing."""

from __future__ import annotations

import pytest
from argon2 import PasswordHasher

from avowal.policy.schemas import PasswordPolicy
from avowal.staff import passwords
from avowal.staff.exceptions import WeakPassword

PRODUCTION_HASHER = passwords.HASHER  # before the light parameters of the tests
RULES = PasswordPolicy()  # min_length 12, reject_common
EMAIL = "grace.hopper@example.com"


@pytest.fixture(autouse=True)
def light_hashing(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    )


def refused(password: str, rules: PasswordPolicy = RULES, **kw: str) -> WeakPassword:
    with pytest.raises(WeakPassword) as caught:
        passwords.check(password, EMAIL, rules, **kw)
    return caught.value


@pytest.mark.parametrize(
    "password",
    ["quiet-Lantern-47-orbit", "copper kettle mangrove ribbon", "x" * 20 + "Zq7!pL0vR#" * 10],
)
def test_strong_passwords_are_accepted(password: str) -> None:
    passwords.check(password[: passwords.MAX_LENGTH], EMAIL, RULES)


def test_a_short_password_is_refused_naming_the_minimum() -> None:
    exc = refused("Zq7!pL0vR#x")
    assert exc.details["rule"] == "min_length"
    assert "at least 12 characters (it has 11)" in exc.message


def test_the_policy_minimum_applies() -> None:
    exc = refused("quiet-Lantern-47", PasswordPolicy(min_length=20))
    assert exc.details["rule"] == "min_length"
    assert "20" in exc.message


@pytest.mark.parametrize("password", ["password1234", "Qwertyuiop123", "1q2w3e4r5t6y"])
def test_common_passwords_are_refused(password: str) -> None:
    exc = refused(password)
    assert exc.details["rule"] in {"common", "guessable"}


def test_a_password_in_the_common_list_is_refused_whatever_its_case() -> None:
    common = next(p for p in passwords._common() if len(p) >= 12 and p.isalpha())
    exc = refused(common.upper())
    assert exc.details["rule"] == "common"
    assert "most common passwords" in exc.message


def test_an_easily_guessed_password_is_refused() -> None:
    exc = refused("aaaaaaaaaaaaaaaa")
    assert exc.details["rule"] == "guessable"
    assert "too easy to guess" in exc.message


def test_common_passwords_pass_when_the_policy_allows_them() -> None:
    passwords.check("aaaaaaaaaaaaaaaa", EMAIL, PasswordPolicy(reject_common=False))


def test_a_password_containing_the_email_name_is_refused() -> None:
    exc = refused("Grace.Hopper-Zq7!pL0v")
    assert exc.details["rule"] == "contains_email"


def test_a_too_long_password_is_refused() -> None:
    exc = refused("Zq7!pL0vR#" * 13)
    assert exc.details["rule"] == "max_length"


def test_the_confirmation_must_match() -> None:
    exc = refused("quiet-Lantern-47-orbit", confirm="quiet-Lantern-47-orbiT")
    assert exc.details["rule"] == "confirmation"


def test_hashes_are_argon2id_and_verify() -> None:
    stored = passwords.hash_password("quiet-Lantern-47-orbit")
    assert stored.startswith("$argon2id$")
    assert passwords.verify(stored, "quiet-Lantern-47-orbit")
    assert not passwords.verify(stored, "quiet-Lantern-47-orbiT")
    assert not passwords.verify("not a hash", "quiet-Lantern-47-orbit")


def test_no_hash_never_verifies_but_does_the_work(monkeypatch: pytest.MonkeyPatch) -> None:
    verified: list[str] = []

    class Counting(PasswordHasher):
        def verify(self, hash: str | bytes, password: str | bytes) -> bool:
            verified.append(str(hash))
            return super().verify(hash, password)

    monkeypatch.setattr(passwords, "HASHER", Counting(time_cost=1, memory_cost=1024, parallelism=1))
    # Even the dummy's own password never verifies without a stored hash ...
    assert not passwords.verify(None, "avowal: no such account")
    assert not passwords.verify(None, "quiet-Lantern-47-orbit")
    # ... yet each call ran one real Argon2id verification, so an unknown account costs the
    # same time as a known one.
    assert len(verified) == 2
    assert all(h.startswith("$argon2id$v=19$m=1024,t=1,p=1$") for h in verified)


def test_a_hash_made_with_other_parameters_needs_rehashing(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = passwords.hash_password("quiet-Lantern-47-orbit")
    assert not passwords.needs_rehash(stored)
    monkeypatch.setattr(
        passwords, "HASHER", PasswordHasher(time_cost=2, memory_cost=1024, parallelism=1)
    )
    assert passwords.needs_rehash(stored)
    assert passwords.verify(stored, "quiet-Lantern-47-orbit")


def test_production_hashing_is_argon2id_with_the_library_defaults() -> None:
    default = PasswordHasher()
    assert PRODUCTION_HASHER.type.name == "ID"
    assert (PRODUCTION_HASHER.time_cost, PRODUCTION_HASHER.memory_cost) == (
        default.time_cost,
        default.memory_cost,
    )

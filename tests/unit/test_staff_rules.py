"""Staff rules that need no database: TOTP codes, lockout windows, cookie flags, account states."""

from __future__ import annotations

import base64
import datetime as dt

import pyotp
import pytest
from cryptography.exceptions import InvalidTag

from avowal.settings import Settings
from avowal.staff import service as staff
from avowal.staff import sessions, signin, totp
from avowal.staff.models import StaffAccount

SECRET = "JBSWY3DPEHPK3PXPJBSWY3DPEHPK3PXP"
NOW = dt.datetime(2026, 11, 29, 9, 0, 0, tzinfo=dt.UTC)
STEP = int(NOW.timestamp()) // 30


def code_at(offset_steps: int) -> str:
    return pyotp.TOTP(SECRET).at(NOW + dt.timedelta(seconds=30 * offset_steps))


def test_a_code_of_the_current_or_a_neighbouring_step_matches() -> None:
    assert totp.matching_step(SECRET, code_at(0), NOW, None) == STEP
    assert totp.matching_step(SECRET, code_at(-1), NOW, None) == STEP - 1
    assert totp.matching_step(SECRET, code_at(1), NOW, None) == STEP + 1
    assert totp.matching_step(SECRET, " " + code_at(0)[:3] + " " + code_at(0)[3:], NOW, None)


@pytest.mark.parametrize("code", [code_at(-2), code_at(2), "12345", "1234567", "abcdef", ""])
def test_other_codes_do_not_match(code: str) -> None:
    assert totp.matching_step(SECRET, code, NOW, None) is None


def test_a_used_step_never_matches_again() -> None:
    assert totp.matching_step(SECRET, code_at(0), NOW, STEP) is None
    assert totp.matching_step(SECRET, code_at(-1), NOW, STEP) is None
    assert totp.matching_step(SECRET, code_at(1), NOW, STEP) == STEP + 1


def test_secrets_are_encrypted_and_bound_to_their_account_and_key() -> None:
    key = bytes(range(32))
    blob = totp.encrypt(key, 7, SECRET)
    assert SECRET.encode() not in blob
    assert totp.encrypt(key, 7, SECRET) != blob  # a fresh nonce each time
    assert totp.decrypt(key, 7, blob) == SECRET
    with pytest.raises(InvalidTag):
        totp.decrypt(key, 8, blob)
    with pytest.raises(InvalidTag):
        totp.decrypt(bytes(32), 7, blob)


def test_the_qr_code_is_an_svg_image_and_the_secret_is_grouped() -> None:
    uri = totp.provisioning_uri(SECRET, "grace@example.com", "ContactMonkey")
    assert uri.startswith("otpauth://totp/ContactMonkey:grace%40example.com?secret=" + SECRET)
    data = totp.qr_data_uri(uri)
    assert data.startswith("data:image/svg+xml;base64,")
    svg = base64.b64decode(data.split(",", 1)[1]).decode()
    assert svg.startswith("<svg") and "<script" not in svg
    assert totp.group("ABCDEFGHIJ") == "ABCD EFGH IJ"
    assert len(totp.new_secret()) == 32


SETTINGS = Settings(login_max_failures=3, login_window_minutes=10, lockout_minutes=15)


def minutes(*offsets: float) -> list[dt.datetime]:
    return [NOW + dt.timedelta(minutes=m) for m in offsets]


def test_a_lockout_starts_at_the_last_failure_within_one_window() -> None:
    failures = minutes(0, 4, 9)
    later = NOW + dt.timedelta(minutes=10)
    assert signin.locked_until(SETTINGS, failures, later) == NOW + dt.timedelta(minutes=24)
    assert signin.locked_until(SETTINGS, failures[:2], later) is None
    assert signin.locked_until(SETTINGS, failures, NOW + dt.timedelta(minutes=24)) is None


def test_failures_spread_wider_than_the_window_do_not_lock() -> None:
    assert signin.locked_until(SETTINGS, minutes(0, 6, 11), NOW + dt.timedelta(minutes=12)) is None


def test_naive_times_from_sqlite_count_as_utc() -> None:
    naive = [t.replace(tzinfo=None) for t in minutes(0, 1, 2)]
    assert signin.locked_until(SETTINGS, naive, NOW) == NOW + dt.timedelta(minutes=17)


def test_the_secure_cookie_flag_follows_the_run_mode() -> None:
    assert sessions.cookie_secure(Settings(env="production"), "http")
    assert sessions.cookie_secure(Settings(env="production"), "https")
    assert not sessions.cookie_secure(Settings(env="test"), "https")
    assert sessions.cookie_secure(Settings(env="development"), "https")
    assert not sessions.cookie_secure(Settings(env="development"), "http")


def test_an_account_state_puts_disabled_before_expired_before_not_enrolled() -> None:
    account = StaffAccount(email="grace@example.com", kind="contractor", role="support")
    assert staff.state(account, NOW) == "not enrolled"
    account.password_hash, account.enrolled_at = "$argon2id$...", NOW
    assert staff.state(account, NOW) == "active"
    account.expires_at = NOW.replace(tzinfo=None)  # as SQLite returns it
    assert staff.state(account, NOW) == "expired"
    assert staff.state(account, NOW - dt.timedelta(seconds=1)) == "active"
    account.disabled_at = NOW
    assert staff.state(account, NOW - dt.timedelta(days=1)) == "disabled"

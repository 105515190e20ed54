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


BACKOFF = signin.Backoff(3, dt.timedelta(minutes=1), dt.timedelta(minutes=15))


def minutes(*offsets: float) -> list[dt.datetime]:
    return [NOW + dt.timedelta(minutes=m) for m in offsets]


def test_back_off_starts_at_the_free_count_and_runs_from_the_last_failure() -> None:
    assert BACKOFF.until(minutes(0, 1), NOW) is None
    assert BACKOFF.until(minutes(0, 1, 2), NOW) == NOW + dt.timedelta(minutes=3)
    assert BACKOFF.until(minutes(0, 1, 2), NOW + dt.timedelta(minutes=3)) is None


def test_back_off_doubles_and_stops_at_its_cap() -> None:
    lengths = [BACKOFF.until(minutes(*([0] * n)), NOW) for n in range(3, 10)]
    assert [(u - NOW).total_seconds() / 60 for u in lengths if u] == [1, 2, 4, 8, 15, 15, 15]
    assert BACKOFF.until(minutes(*([0] * 500)), NOW) == NOW + dt.timedelta(minutes=15)


def test_naive_times_from_sqlite_count_as_utc() -> None:
    naive = [t.replace(tzinfo=None) for t in minutes(0, 1, 2)]
    assert BACKOFF.until(naive, NOW) == NOW + dt.timedelta(minutes=3)


def test_the_throttle_reads_its_limits_from_the_settings() -> None:
    throttle = signin.Throttle.of(Settings(login_max_failures=4, lockout_max_minutes=30))
    assert throttle.pair.free == 4 and throttle.pair.cap == dt.timedelta(minutes=30)
    assert throttle.account.free == 50 and throttle.address.free == 20
    assert throttle.window == dt.timedelta(hours=1)


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

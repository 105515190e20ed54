"""The consent cookie's value, name patterns, and the policy's consent-cookie rule."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from avowal.consent.cookie import declared, format_value, matches, parse_value
from avowal.policy.exceptions import PolicyInvalid
from avowal.policy.loader import parse_text
from avowal.policy.schemas import CookieCategory as C
from tests.factories import policy_text

ID = "3f9c2b7a" * 4
VERSION = "a1b2c3d4e5f6"


def test_a_value_round_trips_and_lists_only_choosable_categories() -> None:
    value = format_value(ID, VERSION, frozenset({C.performance, C.analytics}))
    assert value == f"v1.{ID}.{VERSION}.analytics-performance"
    parsed = parse_value(value)
    assert parsed is not None and parsed.granted == {C.analytics, C.performance}
    assert parsed.allows(C.strictly_necessary) and parsed.allows(C.analytics)
    assert not parsed.allows(C.advertising) and not parsed.allows(None)
    assert format_value(ID, VERSION, frozenset()) == f"v1.{ID}.{VERSION}.none"
    refused = parse_value(format_value(ID, VERSION, frozenset()))
    assert refused is not None and refused.granted == frozenset()
    # A choice the banner could not record yet reads the same.
    pending = parse_value(f"v1.{ID}.{VERSION}.analytics.p")
    assert pending is not None and pending.granted == {C.analytics}
    assert parse_value(f"v1.{ID}.{VERSION}.analytics.x") is None


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "yes",
        f"v2.{ID}.{VERSION}.analytics",
        f"v1.{ID[:-1]}.{VERSION}.analytics",
        f"v1.{ID}.{VERSION}.tracking",
        f"v1.{ID}.XYZ.analytics",
        f"v1.{ID}.{VERSION}",
    ],
)
def test_anything_malformed_reads_as_no_choice(value: str | None) -> None:
    assert parse_value(value) is None


def test_name_patterns() -> None:
    assert matches("_ga_*", "_ga_ABC123") and matches("cm_usage", "cm_usage")
    assert not matches("_ga_*", "_gid") and not matches("cm_usage", "cm_usage2")
    assert not matches("a.b", "aXb")  # only * is special
    policy = parse_text(policy_text()).policy
    found = declared(policy, "cm_usage")
    assert found is not None and found.category is C.analytics
    assert declared(policy, "unknown_cookie") is None


def _problems(change: Any) -> str:
    with pytest.raises(PolicyInvalid) as refused:
        parse_text(policy_text(change))
    return str(refused.value)


def test_refusable_cookies_need_a_declared_strictly_necessary_consent_cookie() -> None:
    assert "must remember the choice" in _problems(
        lambda d: d["cookie_rules"].pop("consent_cookie")
    )
    assert "is not a cookie declared" in _problems(
        lambda d: d["cookie_rules"].update(consent_cookie="nope")
    )
    assert "must be declared strictly_necessary" in _problems(
        lambda d: d["cookie_rules"].update(consent_cookie="cm_usage")
    )


def test_the_banner_offers_a_choice_only_when_there_is_one() -> None:
    from avowal.consent import banner
    from avowal.policy.loader import load_file
    from avowal.settings import Settings

    settings = Settings(env="test")
    example = parse_text(policy_text())
    assert banner.config(example, settings, None).choice
    # The starter policy declares only a strictly necessary cookie: nothing to ask.
    starter = load_file(Path(banner.__file__).parent.parent / "policy" / "starter.yaml")
    assert not banner.config(starter, settings, None).choice
    # A policy that offers no choice: the banner shows nothing, the declared cookies run.
    no_choice = parse_text(policy_text(lambda d: d["cookie_rules"].update(can_refuse=False)))
    assert not banner.config(no_choice, settings, None).choice

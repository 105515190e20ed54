"""Notices: exactly what a person reads at a collection point, and the id that hashes it.

A notice id is what makes old notices stale: a collection sent with the id of a notice the
person read under an older policy is refused (409) when what they read has changed since.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from typing import Any

import pytest

from avowal.crypto.signing import canonical
from avowal.policy.loader import LoadedPolicy, parse_text
from avowal.vault import notices
from avowal.vault.exceptions import UnknownPoint
from avowal.vault.schemas import Notice
from tests.factories import policy_text


@pytest.fixture(autouse=True)
def fresh_notices(monkeypatch: pytest.MonkeyPatch) -> None:
    """Build every notice in the test itself, never from notices built earlier in the process."""
    monkeypatch.setattr(notices, "_cache", {})


def shop(data: dict[str, Any]) -> None:
    """A fictional organisation, and retention rules that show which rules a notice includes."""
    data["organisation"] = {"name": "Example Shop", "privacy_contact": "privacy@example.com"}
    data["retention"] = [
        {"category": "user.financial.credit_card", "days": 730, "reason": "for refunds"},
        {"category": "user.contact", "days": 400, "after": "last_activity"},  # parent category
        {"category": "user.content", "days": 365},  # only the contact point asks for it
        {"purpose": "marketing.communications.email", "days": 730, "after": "last_activity"},
        {"purpose": "analytics.reporting", "days": 90},  # no point collects for it
    ]
    del data["collection_points"]["registration"]["fields"]["phone"]["label"]


def loaded(change: Callable[[dict[str, Any]], None] | None = None) -> LoadedPolicy:
    """Return the example policy with the shop's changes, and then ``change``."""

    def both(data: dict[str, Any]) -> None:
        shop(data)
        if change is not None:
            change(data)

    return parse_text(policy_text(both))


def test_a_notice_shows_exactly_what_the_person_reads() -> None:
    policy = loaded()
    shown = notices.notice(policy, "purchase").model_dump(mode="json")
    assert shown.pop("policy_version") == policy.version_id
    shown.pop("notice_id")
    # Fields in the order the policy lists them (the test's copy of the policy is re-serialised).
    order = list(policy.policy.collection_points["purchase"].fields)
    assert [f["name"] for f in shown["fields"]] == order
    shown["fields"].sort(
        key=lambda f: ["name", "email", "address", "phone", "card"].index(f["name"])
    )
    both = ["essential.service.payment_processing", "essential.service.notifications.email"]

    def field(name: str, label: str, category: str, category_name: str, **more: Any) -> dict:
        return {
            "name": name,
            "label": label,
            "category": category,
            "category_name": category_name,
            "type": more.get("type", "text"),
            "required": more.get("required", True),
            "storage": more.get("storage", "full"),
            "purposes": both,
        }

    assert shown == {
        "organisation": "Example Shop",
        "privacy_contact": "privacy@example.com",
        "point": "purchase",
        "title": "Purchase",
        "fields": [
            field("name", "Name on the card", "user.name", "Name"),
            field(
                "email",
                "E-mail address for the invoice",
                "user.contact.email",
                "User Contact Email",
                type="email",
            ),
            field(
                "address",
                "Billing address",
                "user.contact.address",
                "User Contact Address",
                type="address",
            ),
            field(
                "phone",
                "Telephone number",
                "user.contact.phone_number",
                "User Contact Phone Number",
                type="phone",
                required=False,
            ),
            field(
                "card",
                "Card number",
                "user.financial.credit_card",
                "Credit Card Information",
                type="card",
                storage="last4",
            ),
        ],
        "purposes": [
            {
                "key": "essential.service.notifications.email",
                "description": "to send you messages about your account and purchases",
            },
            {
                "key": "essential.service.payment_processing",
                "description": "to take payment for a purchase",
            },
        ],
        "recipients": [
            {
                "key": "payment_processor",
                "name": "Card payment processor",
                "kind": "processor",
                "country": "US",
            }
        ],
        "retention": [
            {
                "category": "user.financial.credit_card",
                "days": 730,
                "after": "collection",
                "reason": "for refunds",
            },
            {"category": "user.contact", "days": 400, "after": "last_activity"},
        ],
        "minimum_age_without_parent": None,  # the purchase point admits no minors
    }


def test_a_field_without_label_is_shown_by_its_name_with_its_own_purposes() -> None:
    shown = notices.notice(loaded(), "registration")
    fields = {f.name: f for f in shown.fields}
    assert fields["phone"].label == "phone"
    assert fields["name"].label == "Full name"
    assert fields["email"].purposes == [
        "essential.service.authentication",
        "essential.service.notifications.email",
        "essential.service.operations.support",
        "marketing.communications.email",
    ]
    assert "marketing.communications.email" not in fields["phone"].purposes
    assert shown.minimum_age_without_parent == 18  # open to minors: the age is told


def test_a_notice_lists_the_retention_of_its_categories_and_purposes_only() -> None:
    def told(point: str) -> list[tuple[str | None, str | None, int]]:
        return [(r.category, r.purpose, r.days) for r in notices.notice(policy, point).retention]

    policy = loaded()
    # user.contact covers the e-mail address; the e-mail is also collected for marketing.
    assert told("registration") == [
        ("user.contact", None, 400),
        (None, "marketing.communications.email", 730),
    ]
    assert told("contact") == [("user.contact", None, 400), ("user.content", None, 365)]


def test_a_retention_rule_for_a_purpose_covers_the_uses_within_it() -> None:
    def with_service_rule(data: dict[str, Any]) -> None:
        data["retention"].append({"purpose": "essential.service", "days": 365})

    policy = loaded(with_service_rule)
    # Registration collects for essential.service.authentication and other uses within
    # essential.service, so the person is told how long essential.service keeps them.
    for point in ("registration", "purchase", "contact"):
        rules = [(r.purpose, r.days) for r in notices.notice(policy, point).retention]
        assert ("essential.service", 365) in rules, point

    # The reverse does not hold: a rule for a child use says nothing of its parent's values.
    def with_child_rule(data: dict[str, Any]) -> None:
        data["retention"].append({"purpose": "essential.service.security", "days": 30})

    rules = [r.purpose for r in notices.notice(loaded(with_child_rule), "registration").retention]
    assert "essential.service.security" not in rules


def expected_id(shown: Notice) -> str:
    """Hash what the person reads: the notice as served, but its id and version."""
    what = shown.model_dump(mode="json", exclude={"notice_id", "policy_version"})
    return hashlib.sha256(canonical(what)).hexdigest()


def test_the_notice_id_hashes_what_the_person_reads_and_nothing_else() -> None:
    policy = loaded()
    ids = {p: notices.notice(policy, p).notice_id for p in ("registration", "purchase", "contact")}
    for point, notice_id in ids.items():
        assert notice_id == expected_id(notices.notice(policy, point))
    assert len(set(ids.values())) == 3

    def relabel(data: dict[str, Any]) -> None:
        data["collection_points"]["purchase"]["fields"]["card"]["label"] = "Card"

    changed = loaded(relabel)
    assert changed.version_id != policy.version_id
    # The purchase notice changed: its old id is stale. The others read the same: same ids.
    assert notices.notice(changed, "purchase").notice_id != ids["purchase"]
    assert notices.notice(changed, "registration").notice_id == ids["registration"]
    assert notices.notice(changed, "registration").policy_version == changed.version_id


def test_an_unknown_point_is_refused_naming_the_known_ones() -> None:
    with pytest.raises(UnknownPoint) as refused:
        notices.notice(loaded(), "newsletter")
    assert refused.value.message == "no collection point 'newsletter' in the policy"
    assert refused.value.details == {
        "point": "newsletter",
        "known": ["contact", "purchase", "registration"],
    }

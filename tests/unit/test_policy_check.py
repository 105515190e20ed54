"""Each refusal of `avowal policy check` names its location and, where one applies, the promise."""

from __future__ import annotations

from typing import Any

import pytest

from avowal.policy.exceptions import PolicyInvalid, Problem
from avowal.policy.loader import parse_text
from tests.factories import EXAMPLE_POLICY, policy_text


def problems_for(change: Any) -> list[Problem]:
    with pytest.raises(PolicyInvalid) as info:
        parse_text(policy_text(change), "policy.yaml")
    return info.value.problems


def only(problems: list[Problem], location: str) -> Problem:
    found = [p for p in problems if p.location == location]
    assert found, f"no problem at {location}; got {[p.location for p in problems]}"
    return found[0]


def test_example_policy_is_valid() -> None:
    loaded = parse_text(EXAMPLE_POLICY.read_text(), str(EXAMPLE_POLICY))
    assert loaded.policy.organisation.name == "ContactMonkey"
    assert len(loaded.version_id) == 64


def test_version_id_is_a_content_hash() -> None:
    a = parse_text(policy_text())
    b = parse_text(policy_text())
    c = parse_text(policy_text(lambda d: d["changes"].update(notice_days=14)))
    assert a.version_id == b.version_id
    assert a.version_id != c.version_id


def test_unknown_data_category_is_refused() -> None:
    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["fields"]["name"]["category"] = "user.nickname"

    p = only(problems_for(change), "collection_points.registration.fields.name.category")
    assert "unknown data category 'user.nickname'" in p.message


def test_unknown_data_use_and_subject_are_refused() -> None:
    def change(d: dict[str, Any]) -> None:
        d["purposes"]["marketing.telepathy"] = {"description": "to read minds"}
        d["collection_points"]["contact"]["subjects"] = ["martian"]

    problems = problems_for(change)
    assert (
        "unknown data use 'marketing.telepathy'"
        in only(problems, "purposes.marketing.telepathy").message
    )
    assert (
        "unknown data subject 'martian'"
        in only(problems, "collection_points.contact.subjects[0]").message
    )


def test_custom_keys_are_allowed_when_declared_under_a_parent() -> None:
    def change(d: dict[str, Any]) -> None:
        d["taxonomy"] = {
            "data_categories": [
                {
                    "key": "user.contact.email.work",
                    "parent": "user.contact.email",
                    "name": "Work e-mail",
                }
            ]
        }
        d["collection_points"]["contact"]["fields"]["email"]["category"] = "user.contact.email.work"

    loaded = parse_text(policy_text(change))
    assert loaded.taxonomy.label("data_categories", "user.contact.email.work") == "Work e-mail"


def test_custom_key_must_sit_under_a_known_parent() -> None:
    def change(d: dict[str, Any]) -> None:
        d["taxonomy"] = {
            "data_categories": [
                {"key": "user.pet.name", "parent": "user.pet", "name": "Pet's name"},
                {"key": "pets.dog", "parent": "user", "name": "Dog"},
            ]
        }

    problems = problems_for(change)
    assert (
        "unknown parent key 'user.pet'"
        in only(problems, "taxonomy.data_categories[0].parent").message
    )
    assert "must start with its parent" in only(problems, "taxonomy.data_categories[1].key").message


def test_field_with_undeclared_purpose_is_refused() -> None:
    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["field_purposes"]["phone"] = [
            "essential.service.notifications.sms"
        ]

    problems = problems_for(change)
    p = only(problems, "collection_points.registration.fields.phone")
    assert "not declared under purposes: essential.service.notifications.sms" in p.message
    assert p.promise is not None and "purposes indicated" in p.promise


def test_role_granting_undeclared_purpose_is_refused() -> None:
    def change(d: dict[str, Any]) -> None:
        d["staff"]["roles"]["support"]["purposes"].append("personalize.profiling")

    p = only(problems_for(change), "staff.roles.support.purposes[2]")
    assert "'personalize.profiling' is not declared" in p.message
    assert p.promise is not None and "need to know" in p.promise


def test_cookie_without_category_is_refused() -> None:
    def change(d: dict[str, Any]) -> None:
        del d["cookies"][1]["category"]

    p = only(problems_for(change), "cookies[1]")
    assert "cookie 'cm_usage' has no category" in p.message
    assert p.promise is not None and "refuse cookies" in p.promise


@pytest.mark.parametrize("kind", ["buyer", "partner"])
def test_sale_or_sharing_recipient_breaks_never_sold(kind: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["recipients"]["list_broker"] = {"name": "A list broker", "kind": kind, "country": "US"}

    p = only(problems_for(change), "recipients.list_broker.kind")
    assert p.promise is not None and "never shared, rented or sold" in p.promise


@pytest.mark.parametrize(
    "use",
    [
        "third_party_sharing",
        "third_party_sharing.legal_obligation",
        "marketing.advertising.third_party.targeted",
    ],
)
def test_sharing_use_breaks_never_sold(use: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["purposes"][use] = {"description": "to share"}
        d["collection_points"]["purchase"]["purposes"].append(use)

    problems = problems_for(change)
    p = only(problems, "collection_points.purchase.purposes[2]")
    assert f"data use '{use}' shares or sells personal data" in p.message
    assert p.promise is not None and "never shared, rented or sold" in p.promise
    assert only(problems, f"purposes.{use}").promise == p.promise


def test_sharing_is_allowed_when_the_policy_does_not_promise_otherwise() -> None:
    def change(d: dict[str, Any]) -> None:
        d["commitments"]["never_sold"] = False
        d["recipients"]["list_broker"] = {"name": "A list broker", "kind": "buyer", "country": "US"}

    assert parse_text(policy_text(change)).policy.recipients["list_broker"].kind == "buyer"


def test_minors_without_children_threshold_are_refused() -> None:
    def change(d: dict[str, Any]) -> None:
        del d["children"]
        del d["commitments"]["parental_consent_under"]

    p = only(problems_for(change), "collection_points.registration.admits_minors")
    assert "no children section" in p.message
    assert p.promise is not None and "parents" in p.promise


def test_promised_threshold_must_match_children_section() -> None:
    p = only(problems_for(lambda d: d["children"].update(under=16)), "children.under")
    assert "differs from the promised 18" in p.message


def test_undeclared_recipient_in_a_notice_is_refused() -> None:
    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["recipients"] = ["mailing_house"]

    p = only(problems_for(change), "collection_points.registration.recipients[0]")
    assert "'mailing_house' is announced in this notice but not declared" in p.message
    assert p.promise is not None and "advised before providing" in p.promise


def test_card_numbers_are_never_stored_in_full() -> None:
    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["purchase"]["fields"]["card"]["storage"] = "full"

    p = only(problems_for(change), "collection_points.purchase.fields.card.storage")
    assert "never stored in full" in p.message


def test_unknown_key_is_refused_with_its_line() -> None:
    text = policy_text().replace("never_sold: true", "never_sold: true\n  nevre_rented: true")
    with pytest.raises(PolicyInvalid) as info:
        parse_text(text, "policy.yaml")
    (p,) = info.value.problems
    assert p.location == "commitments.nevre_rented"
    assert "unknown key" in p.message
    assert p.line == text.splitlines().index("  nevre_rented: true") + 1


def test_every_problem_is_reported_at_once() -> None:
    def change(d: dict[str, Any]) -> None:
        del d["cookies"][0]["category"]
        d["staff"]["roles"]["support"]["purposes"].append("sales")
        d["collection_points"]["registration"]["recipients"] = ["nobody"]

    locations = {p.location for p in problems_for(change)}
    assert {
        "cookies[0]",
        "staff.roles.support.purposes[2]",
        "collection_points.registration.recipients[0]",
    } <= locations


@pytest.mark.parametrize(
    ("text", "line", "column"),
    [
        ("organisation:\n  name: [unclosed\n", 3, 1),
        ("organisation:\n  name: A\n   bad: indent\n", 3, 7),
        ("a: 1\na: 2\n", 2, 1),
    ],
)
def test_malformed_yaml_gets_line_and_column(text: str, line: int, column: int) -> None:
    with pytest.raises(PolicyInvalid) as info:
        parse_text(text, "policy.yaml")
    (p,) = info.value.problems
    assert p.message.startswith("malformed YAML")
    assert (p.line, p.column) == (line, column)
    assert p.render("policy.yaml").startswith(f"policy.yaml:{line}:{column}: ")


def test_a_non_mapping_document_is_refused() -> None:
    with pytest.raises(PolicyInvalid, match="YAML mapping"):
        parse_text("- just\n- a list\n")

"""`avowal policy check` teaches: the name meant, one problem per mistake, every stage at once."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic_core import ErrorDetails

from avowal.policy import checks, salvage, schema_errors
from avowal.policy.exceptions import PolicyInvalid, Problem
from avowal.policy.loader import inspect_text, parse_text
from avowal.policy.report import Report
from avowal.policy.schemas import FORMATS, Policy
from tests.factories import EXAMPLE_POLICY, policy_text

LIFETIME_WORDS = (
    'a lifetime is "session" or a number and a unit, like "13 months", "30 days" or "1 year" '
    "(units: minutes, hours, days, months, years)"
)
REQUIRED = "(required sections: organisation, policy, purposes, staff, changes)"


def report_for(change: Any = None, text: str | None = None) -> Report:
    return inspect_text(text if text is not None else policy_text(change), "policy.yaml")


def messages(problems: list[Problem]) -> dict[str, str]:
    return {p.location: p.message for p in problems}


def test_a_mistyped_key_gets_the_key_meant() -> None:
    text = EXAMPLE_POLICY.read_text().replace("  never_sold: true", "  nevre_sold: true")
    (p,) = report_for(text=text).problems
    assert p.location == "commitments.nevre_sold"
    assert p.message == "unknown key (not part of the policy format) — did you mean 'never_sold'?"
    assert p.suggestion == "never_sold"
    assert p.line == text.splitlines().index("  nevre_sold: true") + 1


def test_a_mistyped_required_key_is_one_problem_not_two() -> None:
    def change(d: dict[str, Any]) -> None:
        d["organisation"]["privacy_contcat"] = d["organisation"].pop("privacy_contact")

    (p,) = report_for(change).problems
    assert p.location == "organisation.privacy_contcat"
    assert p.message == (
        "unknown key (not part of the policy format) — did you mean 'privacy_contact'? "
        "('privacy_contact' is required and missing)"
    )


def test_a_mistyped_data_category_gets_the_category_meant() -> None:
    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["fields"]["email"]["category"] = "user.contact.emial"

    (p,) = report_for(change).problems
    assert p.location == "collection_points.registration.fields.email.category"
    assert p.message == (
        "unknown data category 'user.contact.emial' — did you mean 'user.contact.email'? "
        "(not in the fideslang default taxonomy nor declared under taxonomy.data_categories)"
    )
    assert p.suggestion == "user.contact.email"


def test_mistyped_data_uses_subjects_and_names_get_suggestions() -> None:
    def change(d: dict[str, Any]) -> None:
        d["staff"]["roles"]["support"]["purposes"].append("essential.service.operation.support")
        d["collection_points"]["contact"]["subjects"] = ["custmer", "visitor"]
        d["collection_points"]["purchase"]["recipients"] = ["payment_procesor"]

    found = {p.location: p for p in report_for(change).problems}
    assert found["staff.roles.support.purposes[2]"].suggestion == (
        "essential.service.operations.support"
    )
    assert "unknown data subject 'custmer' — did you mean 'customer'?" in (
        found["collection_points.contact.subjects[0]"].message
    )
    assert found["collection_points.purchase.recipients[0]"].message.startswith(
        "recipient 'payment_procesor' is announced in this notice but not declared under "
        "recipients — did you mean 'payment_processor'?"
    )


def test_a_name_with_no_close_match_gets_no_suggestion() -> None:
    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["contact"]["subjects"] = ["martian"]

    (p,) = report_for(change).problems
    assert "did you mean" not in p.message
    assert p.suggestion is None


def test_a_missing_section_names_the_required_sections() -> None:
    (p,) = report_for(lambda d: d.pop("changes")).problems
    assert (p.location, p.message) == (
        "changes",
        f"required section 'changes' is missing {REQUIRED}",
    )


def test_missing_sections_are_one_problem() -> None:
    report = report_for(text="avowal: 1\npolicy:\n  effective: 2026-01-01\n")
    (p,) = report.problems
    assert p.render("policy.yaml") == (
        "policy.yaml: (top level): required sections 'organisation', 'purposes', 'staff', "
        f"'changes' are missing {REQUIRED}"
    )
    assert not report.checked


def test_a_bad_cookie_lifetime_says_the_format_with_examples() -> None:
    (p,) = report_for(lambda d: d["cookies"][1].update(lifetime="13 mo")).problems
    assert (p.location, p.message) == (
        "cookies[1].lifetime",
        f"'13 mo' is not valid: {LIFETIME_WORDS}",
    )


def test_every_pattern_of_the_format_has_plain_words() -> None:
    def patterns(node: Any) -> set[str]:
        if isinstance(node, dict):
            own = {node["pattern"]} if isinstance(node.get("pattern"), str) else set()
            return own.union(*(patterns(v) for v in node.values()))
        if isinstance(node, list):
            return set().union(*(patterns(v) for v in node))
        return set()

    found = patterns(Policy.model_json_schema())
    assert found, "the format has pattern-constrained fields"
    assert found <= set(FORMATS), found - set(FORMATS)
    assert not any(words.startswith("^") or pattern in words for pattern, words in FORMATS.items())


def test_a_closed_list_gets_the_word_meant() -> None:
    def change(d: dict[str, Any]) -> None:
        d["legal_disclosures"]["grounds"][0] = "comply_with_laws"
        d["cookies"][2]["category"] = "advertisng"

    found = {p.location: p for p in report_for(change).problems}
    assert found["legal_disclosures.grounds[0]"].suggestion == "comply_with_law"
    assert found["cookies[2].category"].message == (
        "'advertisng' is not one of strictly_necessary, functional, analytics, advertising, "
        "performance — did you mean 'advertising'?"
    )
    # Taking the bad category out to run the other checks does not report the cookie as having
    # none: only the two mistakes.
    assert len(found) == 2


def test_errors_at_one_place_are_one_problem() -> None:
    errors: list[ErrorDetails] = [
        {"type": "string_type", "loc": ("organisation", "name", "str"), "msg": "x", "input": [1]},
        {"type": "int_type", "loc": ("organisation", "name", "int"), "msg": "y", "input": [1]},
    ]
    data = {"organisation": {"name": [1]}}
    (p,) = schema_errors.problems(errors, data, data)
    assert (p.location, p.message) == (
        "organisation.name",
        "expected text, not a list; or expected a whole number, not a list",
    )


def test_schema_and_semantic_problems_come_together() -> None:
    def change(d: dict[str, Any]) -> None:
        d["cookies"][1]["lifetime"] = "13 mo"
        d["staff"]["roles"]["support"]["purposes"].append("sales")
        del d["cookies"][3]["category"]

    text = policy_text(change)
    report = report_for(text=text)
    assert messages(report.problems) == {
        "cookies[1].lifetime": f"'13 mo' is not valid: {LIFETIME_WORDS}",
        "staff.roles.support.purposes[2]": "purpose 'sales' is not declared under purposes",
        # Found with cookies[1] taken out, reported at its own place in the file.
        "cookies[3]": "cookie 'cm_perf' has no category, so no one can refuse it",
    }
    # The same line as when the file has no schema problem.
    alone = report_for(lambda d: d["cookies"][3].pop("category")).problems
    cookie = next(p for p in report.problems if p.location == "cookies[3]")
    assert cookie.line is not None
    assert [(p.location, p.line) for p in alone] == [("cookies[3]", cookie.line)]
    with pytest.raises(PolicyInvalid) as info:
        parse_text(text, "policy.yaml")
    assert len(info.value.problems) == 3


def test_what_is_taken_out_does_not_make_problems_of_its_own() -> None:
    # The consent cookie's lifetime is wrong: checking without it must not report the consent
    # cookie as undeclared.
    report = report_for(lambda d: d["cookies"][0].update(lifetime="forever"))
    assert [p.location for p in report.problems] == ["cookies[0].lifetime"]


def test_a_recipient_announced_nowhere_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        d["recipients"]["newsletter_house"] = {
            "name": "Newsletter sending service",
            "kind": "processor",
            "country": "US",
            "purposes": ["marketing.communications.email"],
            "categories": ["user.contact.email"],
        }

    report = report_for(change)
    assert report.valid and report.loaded is not None
    (w,) = report.warnings
    assert (w.location, w.message) == (
        "recipients.newsletter_house",
        "recipient 'newsletter_house' is declared but no collection point announces it, so "
        "nothing can ever be disclosed to it: add it to the recipients of the collection points "
        "whose data it receives, or remove it",
    )
    assert not report.failed(strict=False)
    assert report.failed(strict=True)


def test_an_authority_for_legal_disclosures_is_not_a_dead_recipient() -> None:
    assert report_for().warnings == []


def test_unused_purposes_and_custom_keys_are_warnings() -> None:
    def change(d: dict[str, Any]) -> None:
        d["purposes"]["marketing.advertising.first_party"] = {"description": "our own ads"}
        d["taxonomy"] = {
            "data_subjects": [{"key": "customer.reseller", "parent": "customer", "name": "R"}]
        }

    assert messages(report_for(change).warnings) == {
        "purposes.marketing.advertising.first_party": (
            "purpose 'marketing.advertising.first_party' is declared but nothing uses it (no "
            "collection point, recipient, cookie, staff role, message kind or retention rule): "
            "use it or remove it"
        ),
        "taxonomy.data_subjects[0]": (
            "custom key 'customer.reseller' is declared but no collection point uses it or a "
            "key below it"
        ),
    }


def test_thousands_of_unknown_names_get_suggestions_for_the_first_ones_only() -> None:
    def change(d: dict[str, Any]) -> None:
        fields = d["collection_points"]["contact"]["fields"]
        for i in range(checks.MAX_SUGGESTIONS + 50):
            fields[f"f{i}"] = {"category": f"user.contact.emial{i}"}

    problems = report_for(change).problems
    assert len(problems) == checks.MAX_SUGGESTIONS + 50
    assert sum(p.suggestion is not None for p in problems) == checks.MAX_SUGGESTIONS


def test_a_file_far_from_a_policy_is_not_salvaged() -> None:
    def change(d: dict[str, Any]) -> None:
        d["cookies"] = [dict(d["cookies"][1], lifetime="forever")] * (salvage.MAX_ERRORS + 1)
        d["staff"]["roles"]["support"]["purposes"].append("sales")

    report = report_for(change)
    assert not report.checked
    assert {p.location.split("[")[0] for p in report.problems} == {"cookies"}


def test_a_kind_of_message_no_address_is_collected_for_is_a_warning() -> None:
    def change(d: dict[str, Any]) -> None:
        # The newsletter address of registration was the only one collected for marketing.
        d["collection_points"]["registration"]["field_purposes"] = {}
        d["children"]["optional_purposes"] = []

    report = report_for(change)
    assert report.valid
    assert messages(report.warnings) == {
        f"communications.{key}.purpose": (
            "no collection point collects an e-mail address (type email, storage full) for "
            f"'marketing.communications.email' or a broader purpose, so messages of kind '{key}' "
            "can reach no one: add the purpose to such a field (field_purposes) or remove the kind"
        )
        for key in ("service_updates", "new_projects")
    }

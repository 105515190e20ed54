"""Policy diffs: every material-change rule, changes that are not material, and the page's text."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from avowal.lifecycle.diff import Area, Change, Kind, PolicyDiff, diff
from avowal.lifecycle.material import RULE_CODES
from avowal.policy.loader import LoadedPolicy, parse_text
from tests.factories import EXAMPLE_POLICY, policy_text

Edit = Callable[[dict[str, Any]], None]


def loaded(*edits: Edit) -> LoadedPolicy:
    """Return the example policy after ``edits``, parsed and checked."""

    def change(data: dict[str, Any]) -> None:
        for edit in edits:
            edit(data)

    return parse_text(policy_text(change))


def changes(result: PolicyDiff, **where: object) -> list[Change]:
    return [c for c in result.changes if all(getattr(c, k) == v for k, v in where.items())]


def point(name: str) -> Callable[[dict[str, Any]], dict[str, Any]]:
    return lambda d: d["collection_points"][name]


def marketing_for_registration(d: dict[str, Any]) -> None:
    d["collection_points"]["registration"]["purposes"].append("marketing.communications.email")


def marketing_for_purchase_email(d: dict[str, Any]) -> None:
    d["collection_points"]["purchase"]["field_purposes"] = {
        "email": ["marketing.communications.email"]
    }


def contact_to_processor(d: dict[str, Any]) -> None:
    d["recipients"]["payment_processor"]["purposes"].append("essential.service.operations.support")
    d["recipients"]["payment_processor"]["categories"].append("user.content")
    d["collection_points"]["contact"]["recipients"].append("payment_processor")


def card_kept_longer(d: dict[str, Any]) -> None:
    d["retention"][0]["days"] = 1095


def content_rule_removed(d: dict[str, Any]) -> None:
    del d["retention"][3]


def card_counted_later(d: dict[str, Any]) -> None:
    d["retention"][0]["after"] = "last_activity"


def no_children_rule(d: dict[str, Any]) -> None:
    del d["children"]
    d["commitments"]["parental_consent_under"] = None
    for cp in d["collection_points"].values():
        cp["admits_minors"] = False


def children_under_16(d: dict[str, Any]) -> None:
    d["children"]["under"] = 16
    d["commitments"]["parental_consent_under"] = 16


def parents_waited_longer(d: dict[str, Any]) -> None:
    d["children"]["wait_days"] = 30


def parents_confirmed_sooner(d: dict[str, Any]) -> None:
    d["children"]["confirm_after_hours"] = 1


def parents_cannot_refuse_news(d: dict[str, Any]) -> None:
    d["children"]["optional_purposes"] = []


def age_declared(d: dict[str, Any]) -> None:
    d["children"]["age_question"] = "declaration"


def parents_sign_a_form(d: dict[str, Any]) -> None:
    d["children"]["consent_method"] = "signed_form"


def purchase_admits_minors(d: dict[str, Any]) -> None:
    d["collection_points"]["purchase"]["admits_minors"] = True
    # children.age_question is birth_date: a point open to minors asks it.
    d["collection_points"]["purchase"]["fields"]["birth_date"] = {
        "category": "user.demographic.date_of_birth",
        "type": "date",
        "required": True,
    }


def functional_cookie(d: dict[str, Any]) -> None:
    d["cookies"].append(
        {
            "name": "ex_lang",
            "provider": "Example",
            "category": "functional",
            "lifetime": "12 months",
            "purpose": "functional.storage.privacy_preferences",
        }
    )


def ads_cookie_becomes_functional(d: dict[str, Any]) -> None:
    d["cookies"][2]["category"] = "functional"


def processor_for_improvement(d: dict[str, Any]) -> None:
    d["recipients"]["payment_processor"]["purposes"].append("essential.service.operations.improve")


def processor_gets_phone_numbers(d: dict[str, Any]) -> None:
    d["recipients"]["payment_processor"]["categories"].append("user.contact.phone_number")


def processor_becomes_controller(d: dict[str, Any]) -> None:
    d["recipients"]["payment_processor"]["kind"] = "controller"


def selling_no_longer_ruled_out(d: dict[str, Any]) -> None:
    d["commitments"]["never_sold"] = False


# (edit, rule, area, key): each material rule at least once.
MATERIAL = [
    (marketing_for_registration, "point_gains_purpose", Area.purpose, "registration"),
    (marketing_for_purchase_email, "point_gains_purpose", Area.purpose, "purchase.email"),
    (contact_to_processor, "point_gains_recipient", Area.recipient, "contact"),
    (card_kept_longer, "retention_days_grow", Area.retention, None),
    (content_rule_removed, "retention_rule_removed", Area.retention, "retention.user.content"),
    (card_counted_later, "retention_starts_later", Area.retention, None),
    (no_children_rule, "children_rule_removed", Area.children, "children"),
    (children_under_16, "children_age_lowered", Area.children, "children.under"),
    (parents_waited_longer, "children_wait_longer", Area.children, "children.wait_days"),
    (
        parents_confirmed_sooner,
        "children_safeguard_weakened",
        Area.children,
        "children.confirm_after_hours",
    ),
    (
        parents_cannot_refuse_news,
        "children_safeguard_weakened",
        Area.children,
        "children.optional_purposes",
    ),
    (age_declared, "children_safeguard_weakened", Area.children, "children.age_question"),
    (
        parents_sign_a_form,
        "children_consent_method_changed",
        Area.children,
        "children.consent_method",
    ),
    (purchase_admits_minors, "point_admits_minors", Area.children, "purchase.admits_minors"),
    (functional_cookie, "cookie_category_added", Area.cookie, "ex_lang"),
    (ads_cookie_becomes_functional, "cookie_category_added", Area.cookie, "cm_content.category"),
    (
        processor_for_improvement,
        "recipient_receives_more",
        Area.recipient,
        "payment_processor.purposes",
    ),
    (
        processor_gets_phone_numbers,
        "recipient_receives_more",
        Area.recipient,
        "payment_processor.categories",
    ),
    (
        processor_becomes_controller,
        "recipient_receives_more",
        Area.recipient,
        "payment_processor.kind",
    ),
    (
        selling_no_longer_ruled_out,
        "commitment_withdrawn",
        Area.commitments,
        "commitments.never_sold",
    ),
]


def test_every_rule_has_a_case() -> None:
    assert {rule for _, rule, _, _ in MATERIAL} == RULE_CODES


@pytest.fixture(scope="module")
def example() -> LoadedPolicy:
    return loaded()


@pytest.mark.parametrize(
    ("edit", "rule", "area", "key"), MATERIAL, ids=[case[0].__name__ for case in MATERIAL]
)
def test_material_rule(
    example: LoadedPolicy, edit: Edit, rule: str, area: Area, key: str | None
) -> None:
    result = diff(example, loaded(edit))
    assert result.material
    flagged = changes(result, rule=rule)
    assert flagged, [c.summary for c in result.changes]
    change = flagged[0]
    assert change.material
    assert change.area is area
    if key is not None:
        assert change.key == key
    assert change.reason and change.summary


def test_purpose_reason_names_point_purpose_and_consent(example: LoadedPolicy) -> None:
    result = diff(example, loaded(marketing_for_registration))
    (change,) = changes(result, material=True)
    assert change.kind is Kind.added
    assert change.after == "marketing.communications.email"
    assert change.reason == (
        "registration gains the purpose marketing.communications.email: "
        "data given earlier needs the person's explicit consent"
    )


def test_retention_reason_says_how_much_longer(example: LoadedPolicy) -> None:
    (change,) = changes(diff(example, loaded(card_kept_longer)), material=True)
    assert (change.before, change.after) == (730, 1095)
    assert "kept 1095 days instead of 730" in change.reason


def test_purpose_covered_through_a_parent_is_not_new() -> None:
    def service(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["purposes"].append("essential.service")

    def improve(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["purposes"].append(
            "essential.service.operations.improve"
        )

    result = diff(loaded(service), loaded(service, improve))
    (change,) = result.changes
    assert (change.area, change.key, change.kind) == (Area.purpose, "registration", Kind.added)
    assert not change.material and not result.material
    assert "within essential.service" in change.reason


def test_field_purpose_made_point_wide_is_new_for_the_other_fields(
    example: LoadedPolicy,
) -> None:
    # registration.email already had it: moving it to the whole point reaches name, phone...
    def point_wide(d: dict[str, Any]) -> None:
        marketing_for_registration(d)
        del d["collection_points"]["registration"]["field_purposes"]

    result = diff(example, loaded(point_wide))
    gained = changes(result, area=Area.purpose, kind=Kind.added)
    assert [c.material for c in gained] == [True]
    lost = changes(result, area=Area.purpose, kind=Kind.removed)
    assert [(c.key, c.material) for c in lost] == [("registration.email", False)]


def test_field_purpose_already_on_that_field_is_not_new() -> None:
    def email_support(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["field_purposes"]["email"].append(
            "essential.service.operations.support"
        )

    result = diff(loaded(), loaded(email_support))
    (change,) = result.changes
    assert change.key == "registration.email" and not change.material


def tighter_children(d: dict[str, Any]) -> None:
    d["children"]["wait_days"] = 3
    d["children"]["under"] = 19
    d["commitments"]["parental_consent_under"] = 19


def new_point(d: dict[str, Any]) -> None:
    d["collection_points"]["newsletter"] = {
        "title": "Newsletter",
        "subjects": ["customer"],
        "fields": {"email": {"category": "user.contact.email", "type": "email"}},
        "purposes": ["marketing.communications.email"],
    }


def support_employees_only(d: dict[str, Any]) -> None:
    d["staff"]["roles"]["support"]["kinds"] = ["employee"]


def fewer_purposes(d: dict[str, Any]) -> None:
    d["collection_points"]["registration"]["purposes"].remove(
        "essential.service.operations.support"
    )


def card_kept_shorter(d: dict[str, Any]) -> None:
    d["retention"][0]["days"] = 365


def new_analytics_cookie(d: dict[str, Any]) -> None:
    d["cookies"].append(
        {
            "name": "ex_visits",
            "provider": "Example",
            "category": "analytics",
            "lifetime": "30 days",
            "purpose": "analytics.reporting",
        }
    )


def new_wording(d: dict[str, Any]) -> None:
    d["policy"]["introduction"] = "We at Example keep your data safe and use it as told here."
    d["organisation"]["privacy_contact"] = "privacy@example.com"


@pytest.mark.parametrize(
    ("edit", "area"),
    [
        (tighter_children, Area.children),
        (new_point, Area.collection_point),
        (support_employees_only, Area.role),
        (fewer_purposes, Area.purpose),
        (card_kept_shorter, Area.retention),
        (new_analytics_cookie, Area.cookie),
        (new_wording, Area.other),
    ],
    ids=lambda v: getattr(v, "__name__", None),
)
def test_not_material(example: LoadedPolicy, edit: Edit, area: Area) -> None:
    result = diff(example, loaded(edit))
    assert result.changes
    assert not result.material
    assert not any(c.material for c in result.changes)
    assert changes(result, area=area)


def test_new_point_is_one_change_not_one_per_purpose(example: LoadedPolicy) -> None:
    result = diff(example, loaded(new_point))
    assert [(c.area, c.key, c.kind) for c in result.changes] == [
        (Area.collection_point, "newsletter", Kind.added)
    ]
    assert result.changes[0].summary == "new collection point newsletter (Newsletter)"


def test_identical_policies_give_no_change(example: LoadedPolicy) -> None:
    result = diff(example, loaded())
    assert result.changes == [] and result.text == []
    assert not result.material
    assert result.old_version == result.new_version == example.version_id


def test_text_changes_by_section(example: LoadedPolicy) -> None:
    result = diff(example, loaded(new_wording))
    sections = {t.section: t for t in result.text}
    intro = sections["introduction"]
    assert intro.kind is Kind.changed
    added = [line.text for line in intro.lines if line.op == "added"]
    removed = [line.text for line in intro.lines if line.op == "removed"]
    assert "We at Example keep your data safe and use it as told here." in added
    assert any(line.startswith("Your privacy is very important to us.") for line in removed)
    # The page names its own version id: that alone is no change of wording.
    assert not any(example.version_id[:12] in line.text for line in intro.lines)


def test_text_of_a_removed_section(example: LoadedPolicy) -> None:
    result = diff(example, loaded(no_children_rule))
    children = next(t for t in result.text if t.section == "children")
    assert children.kind is Kind.removed
    assert {line.op for line in children.lines} == {"removed"}


def test_material_changes_first_helpers(example: LoadedPolicy) -> None:
    result = diff(example, loaded(new_wording, card_kept_longer))
    assert [c.rule for c in result.material_changes()] == ["retention_days_grow"]
    areas = [area for area, _ in result.by_area()]
    assert areas == sorted(areas, key=list(Area).index)
    assert result.changes[0].as_json()["area"] == result.changes[0].area.value


def test_a_collection_point_moved_on_the_page_is_no_change(example: LoadedPolicy) -> None:
    # The file lists registration first; the YAML the tests write sorts the points by name.
    as_written = parse_text(EXAMPLE_POLICY.read_text())
    points = list(as_written.policy.collection_points)
    assert points != list(example.policy.collection_points)
    result = diff(as_written, example)
    assert result.changes == []
    # Subsections are matched by anchor and moved lines left out; only the sentence listing the
    # points in their new order ("Questions about this policy and Purchase") changes.
    assert [t.section for t in result.text] == ["children"]
    assert [line.op for line in result.text[0].lines] == ["removed", "added"]

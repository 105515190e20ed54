"""The bridge to Fides: a policy as a manifest fideslang accepts, and a manifest as a starter
policy whose only problems are the gaps Fides cannot fill."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from fideslang.models import DataCategory, Dataset, DataUse, System
from ruamel.yaml import YAML

import avowal
from avowal.policy import fides
from avowal.policy.loader import inspect_text, parse_text
from tests.factories import EXAMPLE_POLICY, dump, example_data, policy_text

# What the example policy cannot get back from Fides: the words of its notices, how the vault
# keeps each field, its recipients' kind and country, its cookies, staff and notice period.
EXPECTED_GAPS = [
    "policy.effective",
    "purposes.essential.legal_obligation.description",
    "purposes.essential.service.authentication.description",
    "purposes.essential.service.notifications.email.description",
    "purposes.essential.service.operations.support.description",
    "purposes.essential.service.payment_processing.description",
    "purposes.marketing.communications.email.description",
    *(
        f"collection_points.registration.fields.{f}.storage"
        for f in ("name", "email", "phone", "address", "birth_date")
    ),
    *(
        f"collection_points.purchase.fields.{f}.storage"
        for f in ("name", "email", "address", "phone", "card")
    ),
    # Announced to people by a person: Fides says who receives the data, not where to say so.
    "collection_points.purchase.recipients",
    "collection_points.contact.fields.email.storage",
    "collection_points.contact.fields.message.storage",
    "recipients.payment_processor.kind",
    "recipients.payment_processor.country",
    "recipients.authorities.kind",
    "recipients.authorities.country",
    "cookies",
    "staff.confidentiality.version",
    "staff.confidentiality.text",
    "staff.roles",
    "changes.notice_days",
]


def load_yaml(text: str) -> Any:
    return YAML(typ="safe", pure=True).load(text)


def example_manifest() -> dict[str, Any]:
    loaded = parse_text(EXAMPLE_POLICY.read_text(), str(EXAMPLE_POLICY))
    manifest: dict[str, Any] = load_yaml(fides.manifest_yaml(loaded.policy, "policy.yaml"))
    return manifest


def starter_of(manifest: dict[str, Any] | str, system: str | None = None) -> fides.Starter:
    text = manifest if isinstance(manifest, str) else dump(manifest)
    parsed = fides.parse_manifest(text, "fides.yaml")
    return fides.starter_policy(parsed, fides.choose_system(parsed, system, "fides.yaml"), "x")


def problem_locations(starter: fides.Starter) -> list[str]:
    report = inspect_text(starter.text, "starter.yaml")
    return [p.location for p in report.problems]


def filled(starter: fides.Starter) -> dict[str, Any]:
    """Fill every gap of a starter policy as a person would."""
    data: dict[str, Any] = load_yaml(starter.text)
    purpose = next(iter(data["purposes"]))
    for gap in starter.gaps:
        *parent, key = gap.path
        node: Any = data
        for part in parent:
            node = node[part]
        if key == "recipients" and parent[0] == "collection_points":
            # The person announces the recipients Fides names in the gap's hint.
            node[key] = gap.hint.rpartition("shared with ")[2].split(", ")
            continue
        node[key] = {
            "effective": "2026-01-01",
            "privacy_contact": "privacy@example.com",
            "description": "to do what we said",
            "storage": {"card": "last4", "password": "none"}.get(node.get("type"), "full"),
            "kind": "processor",
            "country": "US",
            "subjects": ["customer"],
            "purposes": [purpose],
            "cookies": [],
            "version": "1",
            "text": "I keep what I see to myself.",
            "roles": {"support": {"title": "Support", "purposes": [purpose]}},
            "days": 365,
            "notice_days": 30,
        }[str(key)]
    return data


# -- export ----------------------------------------------------------------------------------


def test_export_of_the_example_validates_with_fideslang() -> None:
    manifest = example_manifest()
    assert set(manifest) == {"system", "dataset"}
    for entry in manifest["system"]:
        System.model_validate(entry)
    for entry in manifest["dataset"]:
        Dataset.model_validate(entry)
    assert fides.check_manifest(manifest) == []


def test_the_starter_policy_goes_to_fides_and_back_with_gaps_only() -> None:
    starter_yaml = Path(avowal.__file__).parent / "policy" / "starter.yaml"
    loaded = parse_text(starter_yaml.read_text(), "starter.yaml")
    manifest = load_yaml(fides.manifest_yaml(loaded.policy, "starter.yaml"))
    assert fides.check_manifest(manifest) == []
    (own,) = manifest["system"]  # no recipients
    assert [d["data_use"] for d in own["privacy_declarations"]] == [
        "essential.service",
        "essential.service.operations.support",  # the contact point's
    ]
    back = starter_of(manifest)
    assert sorted(problem_locations(back)) == sorted(g.location for g in back.gaps)
    assert "collection_points.registration.fields.email.storage" in [g.location for g in back.gaps]
    parse_text(dump(filled(back)), "filled.yaml")


def test_export_declares_each_collected_purpose_with_its_data_and_recipients() -> None:
    own, processor, authorities = example_manifest()["system"]
    assert own["fides_key"] == "contactmonkey"
    assert own["dpo"] == "support@contactmonkey.com"
    assert own["uses_cookies"] is True
    by_use = {d["data_use"]: d for d in own["privacy_declarations"]}
    assert list(by_use) == [
        "essential.service.authentication",
        "essential.service.payment_processing",
        "essential.service.notifications.email",
        "essential.service.operations.support",
        "marketing.communications.email",
    ]
    payment = by_use["essential.service.payment_processing"]
    assert payment["name"] == "to take payment for a purchase"
    assert payment["data_subjects"] == ["customer"]
    assert "user.financial.credit_card" in payment["data_categories"]
    # The recipient announced at purchase, for what it is declared for (never the telephone).
    assert payment["egress"] == ["payment_processor"]
    assert payment["third_parties"] == "Card payment processor"
    assert "user.contact.phone_number" not in payment["shared_categories"]
    assert payment["retention_period"] == (
        "user.financial.credit_card: 730 days after collection; 365 days after account closure"
    )
    # The newsletter: only the e-mail address registration collects for it.
    newsletter = by_use["marketing.communications.email"]
    assert newsletter["data_categories"] == ["user.contact.email"]
    assert "egress" not in newsletter
    assert [f["fides_key"] for f in own["egress"]] == ["payment_processor", "authorities"]
    assert processor["ingress"][0]["fides_key"] == "contactmonkey"
    assert [d["data_use"] for d in processor["privacy_declarations"]] == [
        "essential.service.payment_processing"
    ]
    assert authorities["privacy_declarations"][0]["data_categories"] == ["user"]


def test_export_dataset_has_a_collection_per_collection_point() -> None:
    (dataset,) = example_manifest()["dataset"]
    points = example_data()["collection_points"]
    assert [c["name"] for c in dataset["collections"]] == list(points)
    registration = dataset["collections"][0]
    assert registration["description"] == "Registration"
    assert registration["data_subjects"] == ["customer"]
    assert registration["data_uses"] == points["registration"]["purposes"]
    email = next(f for f in registration["fields"] if f["name"] == "email")
    assert email["data_categories"] == ["user.contact.email"]
    assert email["data_uses"] == ["marketing.communications.email"]


def test_export_declares_the_policys_own_taxonomy_keys() -> None:
    def change(d: dict[str, Any]) -> None:
        d["taxonomy"] = {
            "data_categories": [
                {"key": "user.contact.email.work", "parent": "user.contact.email", "name": "Work"}
            ],
            "data_uses": [
                {
                    "key": "essential.service.operations.support.chat",
                    "parent": "essential.service.operations.support",
                    "name": "Chat",
                }
            ],
        }
        d["collection_points"]["contact"]["fields"]["email"]["category"] = "user.contact.email.work"

    loaded = parse_text(policy_text(change))
    manifest = load_yaml(fides.manifest_yaml(loaded.policy, "p.yaml"))
    (category,) = manifest["data_category"]
    DataCategory.model_validate(category)
    assert category["parent_key"] == "user.contact.email"
    DataUse.model_validate(manifest["data_use"][0])
    # ... and they come back as the starter's own keys.
    starter = starter_of(manifest)
    taxonomy = load_yaml(starter.text)["taxonomy"]
    assert taxonomy["data_categories"][0]["key"] == "user.contact.email.work"
    assert taxonomy["data_uses"][0]["parent"] == "essential.service.operations.support"
    assert sorted(problem_locations(starter)) == sorted(g.location for g in starter.gaps)


# -- the round trip --------------------------------------------------------------------------


def test_round_trip_problems_are_exactly_the_gaps() -> None:
    starter = starter_of(example_manifest())
    assert [g.location for g in starter.gaps] == EXPECTED_GAPS
    assert sorted(problem_locations(starter)) == sorted(EXPECTED_GAPS)
    # Each gap is marked in the file, where a person reads it.
    assert starter.text.count(f"# {fides.GAP_MARK}") == len(EXPECTED_GAPS)


def test_round_trip_gives_back_the_collection_points_and_recipients() -> None:
    starter = starter_of(example_manifest())
    data = filled(starter)
    parse_text(dump(data), "filled.yaml")  # valid once the gaps are filled
    original = example_data()
    assert data["organisation"]["name"] == "ContactMonkey"
    assert data["organisation"]["privacy_contact"] == "support@contactmonkey.com"
    for name, point in original["collection_points"].items():
        got = data["collection_points"][name]
        assert got["title"] == point["title"]
        assert got["subjects"] == point["subjects"]
        assert got["purposes"] == point["purposes"]
        assert got.get("field_purposes", {}) == point.get("field_purposes", {})
        assert got.get("recipients", []) == point["recipients"]
        assert {f: (v["category"], v.get("type", "text")) for f, v in got["fields"].items()} == {
            f: (v["category"], v.get("type", "text")) for f, v in point["fields"].items()
        }
    for name, rec in original["recipients"].items():
        got = data["recipients"][name]
        assert (got["name"], got["purposes"], got["categories"]) == (
            rec["name"],
            rec["purposes"],
            rec["categories"],
        )
    # The retention rules, as purpose rules of each purpose they covered.
    rules = {(r.get("category") or r["purpose"], r["days"], r["after"]) for r in data["retention"]}
    assert ("user.financial.credit_card", 730, "collection") in rules
    assert ("user.content", 365, "collection") in rules
    assert ("essential.service.authentication", 365, "account_closure") in rules
    assert ("marketing.communications.email", 730, "last_activity") in rules


# -- manifests written for Fides ---------------------------------------------------------------

# In the shape of Fides's own sample resources: declarations without a dataset of this system's.
ANALYTICS = """
system:
  - fides_key: demo_analytics_system
    name: Demo Analytics System
    description: A system used for analyzing customer behaviour.
    system_type: Service
    administrating_department: Engineering
    egress:
      - fides_key: demo_marketing_system
        type: system
        data_categories: [user.contact, user.device.cookie_id]
    privacy_declarations:
      - name: Analyze customer behaviour for improvements.
        data_categories: [user.contact, user.device.cookie_id, system.operations]
        data_use: functional.service.improve
        data_subjects: [customer]
        egress: [demo_marketing_system]
      - name: Send newsletters
        data_categories: [user.contact.email]
        data_use: marketing.communications.email
        data_subjects: []
        data_shared_with_third_parties: true
        third_parties: Mailing house
        retention_period: "90"
      - data_categories: [user.name]
        data_use: essential.service
        retention_period: six months
  - fides_key: demo_marketing_system
    name: Demo Marketing System
    system_type: Service
    ingress:
      - fides_key: demo_analytics_system
        type: system
    privacy_declarations:
      - name: Marketing
        data_categories: [user.contact]
        data_use: marketing.advertising
        data_subjects: [customer]
"""


def test_a_system_without_dataset_gives_a_point_per_declaration() -> None:
    starter = starter_of(ANALYTICS)
    data = load_yaml(starter.text)
    assert starter.system == "demo_analytics_system"
    assert data["organisation"] == {"name": "Demo Analytics System", "privacy_contact": None}
    points = data["collection_points"]
    assert list(points) == [
        "analyze_customer_behaviour_for_improvements",
        "send_newsletters",
        "essential_service",
    ]
    analyze = points["analyze_customer_behaviour_for_improvements"]
    # Only data about people: system.operations is the system's own.
    assert {n: f["category"] for n, f in analyze["fields"].items()} == {
        "contact": "user.contact",
        "cookie_id": "user.device.cookie_id",
    }
    # Announcements are a person's to make: gaps naming whom Fides says the data goes to.
    assert analyze["recipients"] is None and points["send_newsletters"]["recipients"] is None
    hints = {g.location: g.hint for g in starter.gaps}
    assert hints[f"collection_points.{next(iter(points))}.recipients"].endswith(
        "shared with demo_marketing_system"
    )
    assert hints["collection_points.send_newsletters.recipients"].endswith(
        "shared with mailing_house"
    )
    assert filled(starter)["collection_points"]["send_newsletters"]["recipients"] == [
        "mailing_house"
    ]
    assert points["essential_service"]["title"] == "Essential service"
    recipients = data["recipients"]
    assert recipients["demo_marketing_system"]["purposes"] == [
        "marketing.advertising",
        "functional.service.improve",
    ]
    assert recipients["mailing_house"]["name"] == "Mailing house"
    rules = data["retention"]
    assert rules[0] == {"purpose": "functional.service.improve", "days": None}
    assert rules[1] == {
        "purpose": "marketing.communications.email",
        "days": 90,
        "after": "collection",
    }
    assert rules[2] == {"purpose": "essential.service", "days": None}
    assert "(Fides says: six months)" in starter.text
    gaps = [g.location for g in starter.gaps]
    assert "organisation.privacy_contact" in gaps
    assert "collection_points.send_newsletters.subjects" in gaps
    assert "collection_points.essential_service.subjects" in gaps
    assert "cookies" not in gaps  # the system does not say it uses cookies
    assert sorted(problem_locations(starter)) == sorted(gaps)
    parse_text(dump(filled(starter)), "filled.yaml")


def test_a_dataset_without_uses_takes_them_from_the_declarations() -> None:
    manifest: dict[str, Any] = load_yaml(ANALYTICS)
    own = manifest["system"][0]
    own["dataset_references"] = ["demo_users_dataset"]
    own["dpo"] = "not an address"
    manifest["organization"] = [
        {
            "fides_key": "default_organization",
            "data_protection_officer": {"email": "dpo@example.com"},
        }
    ]
    manifest["dataset"] = [
        {
            "fides_key": "demo_users_dataset",
            "name": "Demo Users Dataset",
            "collections": [
                {
                    "name": "users",
                    "fields": [
                        {"name": "created_at", "data_categories": ["system.operations"]},
                        {"name": "email", "data_categories": ["user.contact.email"]},
                        {"name": "first_name", "data_categories": ["user.name"]},
                    ],
                },
                {"name": "logs", "fields": [{"name": "id", "data_categories": ["system"]}]},
            ],
        }
    ]
    starter = starter_of(manifest)
    data = load_yaml(starter.text)
    assert data["organisation"]["privacy_contact"] == "dpo@example.com"
    (name,) = data["collection_points"]
    users = data["collection_points"][name]
    assert name == "users"
    assert list(users["fields"]) == ["email", "first_name"]  # the file's order, not fideslang's
    # No use covers both fields: the point's purposes are a gap, each field's are known.
    assert users["purposes"] is None
    assert users["field_purposes"] == {
        "email": ["functional.service.improve", "marketing.communications.email"],
        "first_name": ["essential.service"],
    }
    assert users["recipients"] is None  # a gap: see the hint
    assert filled(starter)["collection_points"]["users"]["recipients"] == [
        "demo_marketing_system",
        "mailing_house",
    ]
    assert sorted(problem_locations(starter)) == sorted(g.location for g in starter.gaps)
    parse_text(dump(filled(starter)), "filled.yaml")


# -- what is not a manifest ------------------------------------------------------------------


def manifest_with(change: Any) -> str:
    manifest = example_manifest()
    change(manifest)
    return dump(manifest)


@pytest.mark.parametrize(
    ("text", "location", "message"),
    [
        ("- just\n- a list\n", "", "a YAML mapping with a `system:` list"),
        ("avowal: 1\norganisation: {}\n", "", "lists its systems under `system:`"),
        ("system: []\n", "system", "lists its systems under `system:`"),
        ("system: {a: 1}\n", "system", "lists its systems under `system:`"),
        ("system:\n  - fides_key: a\n", "system[0].system_type", "Field required"),
        (
            "system:\n  - fides_key: a b\n    system_type: Service\n    privacy_declarations: []\n",
            "system[0].fides_key",
            "FidesKeys must only contain",
        ),
        (
            manifest_with(lambda m: m["system"][0].pop("egress")),
            "system[0]",
            "does not itself define any egress",
        ),
        (
            manifest_with(lambda m: m["system"][0]["privacy_declarations"][1].pop("data_use")),
            "system[0].privacy_declarations[1].data_use",
            "Field required",
        ),
        (
            manifest_with(lambda m: m["dataset"][0]["collections"][0].pop("fields")),
            "dataset[0].collections[0].fields",
            "Field required",
        ),
        (
            manifest_with(lambda m: m["system"].append(copy.deepcopy(m["system"][1]))),
            "system[3].fides_key",
            "is also the key of system[1]",
        ),
        ("system: [\n", "", "malformed YAML"),
    ],
)
def test_what_is_not_a_manifest_is_refused_saying_why(
    text: str, location: str, message: str
) -> None:
    with pytest.raises(fides.ManifestInvalid) as info:
        fides.parse_manifest(text, "fides.yaml")
    found = [p for p in info.value.problems if p.location == location]
    assert found, [p.render() for p in info.value.problems]
    assert message in found[0].message


def test_the_system_to_import_is_the_one_others_receive_from_or_named() -> None:
    parsed = fides.parse_manifest(ANALYTICS, "fides.yaml")
    assert fides.choose_system(parsed, None, "f").fides_key == "demo_analytics_system"
    assert fides.choose_system(parsed, "demo_marketing_system", "f").name == "Demo Marketing System"
    with pytest.raises(fides.ManifestInvalid, match="no system 'nope' here"):
        fides.choose_system(parsed, "nope", "f")
    alone: dict[str, Any] = load_yaml(ANALYTICS)
    del alone["system"][0]["egress"]
    for declaration in alone["system"][0]["privacy_declarations"]:
        declaration.pop("egress", None)
    two = fides.parse_manifest(dump(alone), "fides.yaml")
    with pytest.raises(fides.ManifestInvalid) as info:
        fides.choose_system(two, None, "f")
    assert "demo_analytics_system, demo_marketing_system" in str(info.value)
    assert "--system" in str(info.value)


def test_unnamed_declarations_do_not_break_fideslang_sorting() -> None:
    text = """
system:
  - fides_key: shop
    system_type: Service
    privacy_declarations:
      - {data_use: essential.service, data_categories: [user.name], data_subjects: [customer]}
      - {data_use: marketing.communications.email, data_categories: [user.contact.email]}
"""
    starter = starter_of(text)
    assert list(load_yaml(starter.text)["collection_points"]) == [
        "essential_service",
        "marketing_communications_email",
    ]


def test_names_are_policy_names() -> None:
    assert fides.name_of("Demo Marketing-System") == "demo_marketing_system"
    assert fides.name_of("2fa codes") == "x_2fa_codes"
    assert fides.name_of("***") == "unnamed"
    assert fides.name_of("users", ["users", "users_2"]) == "users_3"
    assert len(fides.name_of("a" * 200)) <= 64


def test_the_export_is_deterministic() -> None:
    loaded = parse_text(EXAMPLE_POLICY.read_text())
    assert fides.manifest_yaml(loaded.policy, "p.yaml") == fides.manifest_yaml(
        parse_text(EXAMPLE_POLICY.read_text()).policy, "p.yaml"
    )

"""The policy's kinds of messages (``communications``): checked against the purposes, listed on
the page with their one-click unsubscribe, shown in a diff, and absent from the version id of a
policy that has none."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pytest

from avowal.lifecycle.diff import Area, Kind, diff
from avowal.policy.document import build
from avowal.policy.exceptions import PolicyInvalid
from avowal.policy.loader import parse_text
from avowal.promises.ids import PromiseId
from tests.factories import policy_text

MARKETING = "marketing.communications.email"


def _kind(purpose: str, title: str = "Weekly digest") -> dict[str, str]:
    return {"title": title, "description": "The week's news.", "purpose": purpose}


def _problems(change: Any) -> list[str]:
    with pytest.raises(PolicyInvalid) as raised:
        parse_text(policy_text(change))
    return [f"{p.location}: {p.message}" for p in raised.value.problems]


def test_the_example_declares_service_updates_and_new_projects() -> None:
    kinds = parse_text(policy_text()).policy.communications
    assert {k: (v.title, v.purpose) for k, v in kinds.items()} == {
        "service_updates": ("Service updates", MARKETING),
        "new_projects": ("New projects", MARKETING),
    }


@pytest.mark.parametrize(
    ("purpose", "says"),
    [
        (
            "analytics.reporting",
            "communications.digest.purpose: the kind of message 'digest' is for "
            "'analytics.reporting', but messages are sent only for a use within "
            "marketing.communications or essential.service.notifications: use one of the "
            "declared purposes essential.service.notifications.email, " + MARKETING,
        ),
        (
            "marketing.communications",
            "communications.digest.purpose: the kind of message 'digest' is for "
            "'marketing.communications', which is not declared under purposes: declare it "
            "there, or use one of the declared purposes",
        ),
        (
            "marketing.newsletters",
            "communications.digest.purpose: unknown data use 'marketing.newsletters'",
        ),
    ],
)
def test_a_kinds_purpose_is_a_declared_communications_use(purpose: str, says: str) -> None:
    def change(d: dict[str, Any]) -> None:
        d["communications"]["digest"] = _kind(purpose)

    problems = _problems(change)
    assert len(problems) == 1 and problems[0].startswith(says), problems


def test_a_kind_needs_a_key_a_title_a_description_and_a_purpose() -> None:
    def change(d: dict[str, Any]) -> None:
        d["communications"]["Weekly-Digest"] = {"title": "Weekly digest", "purpose": MARKETING}

    problems = " ".join(_problems(change))
    assert "communications.Weekly-Digest" in problems and "description" in problems


def test_the_page_lists_the_kinds_and_their_one_click_unsubscribe() -> None:
    section = next(s for s in build(parse_text(policy_text())).sections if s.id == "communications")
    kinds = section.blocks[3]
    assert kinds.kind == "bullets"
    listed = {item[0].text: item[1] for item in kinds.items}  # type: ignore[union-attr]
    assert sorted(listed) == ["New projects", "Service updates"]
    assert "News of our new projects." in listed["New projects"]
    last = section.blocks[-1]
    assert last.kind == "paragraph" and last.promise == PromiseId.one_click_unsubscribe
    assert "unsubscribes you in one click" in str(last.parts[0])


def test_a_kind_nobody_gave_an_address_for_is_not_listed() -> None:
    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["field_purposes"] = {}
        d["children"]["optional_purposes"] = []

    section = next(
        s for s in build(parse_text(policy_text(change))).sections if s.id == "communications"
    )
    words = " ".join(str(p) for b in section.blocks for p in getattr(b, "parts", ()))
    assert "We do not use your data to send you news or service updates." in words
    assert len(section.blocks) == 1


def test_a_new_kind_of_message_shows_in_the_diff_and_is_not_material() -> None:
    def change(d: dict[str, Any]) -> None:
        d["communications"]["digest"] = _kind(MARKETING)
        d["communications"]["new_projects"]["title"] = "Our new projects"

    result = diff(parse_text(policy_text()), parse_text(policy_text(change)))
    shown = [(c.area, c.key, c.kind, c.summary) for c in result.changes]
    assert shown == [
        (
            Area.purpose,
            "communications.new_projects.title",
            Kind.changed,
            "communications.new_projects.title changed from “New projects” to “Our new projects”",
        ),
        (
            Area.purpose,
            "communications.digest",
            Kind.added,
            "new kind of message communications.digest (“Weekly digest”)",
        ),
    ]
    assert not result.material


def test_a_policy_without_communications_keeps_its_version_id() -> None:
    def drop(d: dict[str, Any]) -> None:
        del d["communications"]

    loaded = parse_text(policy_text(drop))
    dumped = loaded.policy.model_dump(mode="json")
    assert "communications" not in dumped
    canonical = json.dumps(dumped, sort_keys=True, separators=(",", ":"))
    assert loaded.version_id == hashlib.sha256(canonical.encode()).hexdigest()
    assert loaded.version_id != parse_text(policy_text()).version_id

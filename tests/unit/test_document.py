"""The content model of the human-readable policy, built clause by clause from a policy file."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

from avowal.policy import document, wording
from avowal.policy.content import Document, Line, Section, Table
from avowal.policy.loader import LoadedPolicy, parse_text
from avowal.policy.render import render_html, render_markdown
from tests.factories import policy_text


def loaded(change: Callable[[dict[str, Any]], None] | None = None) -> LoadedPolicy:
    return parse_text(policy_text(change), "policy.yaml")


def build(change: Callable[[dict[str, Any]], None] | None = None) -> Document:
    return document.build(loaded(change))


def plain(line: Line) -> str:
    return "".join(p if isinstance(p, str) else p.text for p in line)


def text_of(section: Section) -> str:
    """Return all the words of a section, its subsections included, as one string."""
    out: list[str] = [section.heading]
    blocks = list(section.blocks)
    for sub in section.subsections:
        out.append(sub.heading)
        blocks.extend(sub.blocks)
    for block in blocks:
        if block.kind in ("paragraph", "quote"):
            out.append(plain(block.parts))
        elif block.kind == "bullets":
            out.extend(plain(item) for item in block.items)
        else:
            out.append(block.caption)
            out.extend(plain(cell) for row in block.rows for cell in row)
    return "\n".join(out)


def section(doc: Document, section_id: str) -> Section:
    found = [s for s in doc.sections if s.id == section_id]
    assert found, f"no section {section_id}; got {[s.id for s in doc.sections]}"
    return found[0]


def test_example_has_every_section_in_order() -> None:
    doc = build()
    assert tuple(s.id for s in doc.sections) == document.SECTION_IDS
    assert doc.organisation == "ContactMonkey"
    assert doc.effective == "23 February 2017"
    assert len(doc.version) == 12
    assert doc.version_id.startswith(doc.version)


def test_collection_point_lists_each_field_with_its_storage_and_purposes() -> None:
    doc = build()
    purchase = next(s for s in section(doc, "collection").subsections if s.id == "collect-purchase")
    words = "\n".join(
        plain(item) for b in purchase.blocks if b.kind == "bullets" for item in b.items
    )
    assert "Card number: required; we keep only its last four" in words
    assert "Telephone number: optional" in words
    assert "to take payment for a purchase" in words
    registration = text_of(section(doc, "collection"))
    # The e-mail field carries an extra purpose of its own, on top of the point's purposes.
    assert "we can find your records by it. Also used to inform you of service updates" in (
        registration
    )


def test_hashed_and_unkept_fields_are_explained() -> None:
    def change(d: dict[str, Any]) -> None:
        fields = d["collection_points"]["purchase"]["fields"]
        fields["card"]["storage"] = "hash"
        fields["phone"]["storage"] = "none"

    words = text_of(section(build(change), "collection"))
    assert "Card number: required; we keep only a keyed fingerprint" in (words)
    assert "Telephone number: optional; used when you send it, then not kept" in words


def test_recipients_are_announced_where_collected() -> None:
    words = text_of(section(build(), "recipients"))
    assert "Card payment processor" in words
    assert "a service provider that handles the data on our behalf" in words
    assert "Based in the United States" in words
    assert "Receives data you give at: Purchase" in words
    assert "never shared, rented or sold" in words


def test_no_recipients_says_no_outside_party_receives_data() -> None:
    def change(d: dict[str, Any]) -> None:
        d["recipients"] = {}
        d["legal_disclosures"]["recipients"] = []
        d["collection_points"]["purchase"]["recipients"] = []

    words = text_of(section(build(change), "recipients"))
    assert "No outside party receives personal data from us." in words


def test_no_children_section_without_children_rules() -> None:
    def change(d: dict[str, Any]) -> None:
        del d["children"]
        d["commitments"]["parental_consent_under"] = None
        for point in d["collection_points"].values():
            point["admits_minors"] = False

    ids = [s.id for s in build(change).sections]
    assert "children" not in ids
    assert ids == [i for i in document.SECTION_IDS if i != "children"]


def test_children_section_explains_consent_and_which_forms() -> None:
    words = text_of(section(build(), "children"))
    assert "If you are under 18, be sure to obtain your parent's or guardian's permission" in words
    assert "we send an e-mail to your parent or guardian" in words
    assert "do not answer within 14 days, we erase it" in words
    assert (
        "Forms only for people aged 18 or over: Questions about this policy and Purchase." in words
    )
    assert "We encourage parents to get involved" in words


def test_cookie_table_has_a_row_per_cookie() -> None:
    cookies = section(build(), "cookies")
    tables = [b for b in cookies.blocks if isinstance(b, Table)]
    assert len(tables) == 1
    table = tables[0]
    assert table.caption == "Cookies we use"
    assert table.columns == ("Name", "Provider", "Category", "Lifetime", "Purpose")
    rows = [tuple(plain(c) for c in row) for row in table.rows]
    assert rows[0][:4] == ("cm_consent", "ContactMonkey", "Strictly necessary", "12 months")
    assert rows[3][:4] == (
        "cm_perf",
        "ContactMonkey",
        "Performance",
        "Until you close your browser",
    )
    assert [r[0] for r in rows] == ["cm_consent", "cm_usage", "cm_content", "cm_perf"]


def test_no_cookies_says_so_without_a_table() -> None:
    def change(d: dict[str, Any]) -> None:
        d["cookies"] = []
        d["cookie_rules"].pop("consent_cookie")

    cookies = section(build(change), "cookies")
    assert not any(isinstance(b, Table) for b in cookies.blocks)
    assert "We use no cookies." in text_of(cookies)


def test_disabled_analytics_and_empty_retention_say_so() -> None:
    def change(d: dict[str, Any]) -> None:
        d["analytics"]["enabled"] = False
        d["retention"] = []

    doc = build(change)
    assert "We do not collect information about which pages you visit." in text_of(
        section(doc, "analytics")
    )
    assert "This policy sets no fixed retention periods." in text_of(section(doc, "retention"))


def test_retention_rules_in_plain_words() -> None:
    words = text_of(section(build(), "retention"))
    assert (
        "Card number at Purchase: erased 730 days after we collect it"
        " — kept for refunds and chargebacks, then erased." in words
    )
    assert "erased 365 days after your account is closed" in words
    assert "Records of individual page visits: erased after 30 days" in words


def test_communications_name_the_fields_and_unsubscribe() -> None:
    words = text_of(section(build(), "communications"))
    assert "Registration: E-mail address, used to inform you of service updates" in words
    assert "unsubscribe" in words

    def change(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["field_purposes"] = {}
        d["children"]["optional_purposes"] = []
        d["staff"]["roles"]["marketing"]["purposes"] = ["analytics.reporting"]
        d["retention"] = [r for r in d["retention"] if r.get("purpose") is None]

    words = text_of(section(build(change), "communications"))
    assert "We do not use your data to send you news or service updates." in words


def test_changes_without_notice_period_apply_when_posted() -> None:
    def change(d: dict[str, Any]) -> None:
        d["changes"].update(
            notice_days=0,
            notify_by=["posting"],
            continued_use_accepts=True,
            material_requires_explicit=False,
        )

    words = text_of(section(build(change), "changes"))
    assert "We announce a change when it takes effect:" in words
    assert "By posting the new version on this page." in words
    assert "constitutes your acceptance; we record it." in words
    assert "explicitly" not in words


def test_staff_roles_and_confidentiality() -> None:
    words = text_of(section(build(), "staff-access"))
    assert "ContactMonkey employees, contractors and agents who need to know" in words
    assert "Customer support (employees, contractors and agents)" in words
    assert "Website back end: The site's own server" in words
    assert "confidentiality agreement (version 2017-02)" in words
    assert "I will access personal information only when my work needs it" in words


def test_building_and_rendering_are_deterministic() -> None:
    a, b = loaded(), loaded()
    assert document.build(a) == document.build(b)
    assert render_html(a) == render_html(b)
    assert render_markdown(a) == render_markdown(b)


def test_markdown_escapes_policy_text() -> None:
    def change(d: dict[str, Any]) -> None:
        d["policy"]["introduction"] = "We *never* <b>sell</b> [data](http://x.example)."

    md = render_markdown(loaded(change))
    assert r"We \*never\* \<b\>sell\</b\> \[data\](http://x.example)." in md


def test_wording_helpers() -> None:
    assert wording.joined([]) == ""
    assert wording.joined(["a"]) == "a"
    assert wording.joined(["a", "b", "c"], "or") == "a, b or c"
    assert wording.date(dt.date(2017, 2, 3)) == "3 February 2017"
    assert wording.sentence("to do it") == "To do it."
    assert wording.days(1) == "1 day"
    assert wording.country("ZZ") == "the country with code ZZ"

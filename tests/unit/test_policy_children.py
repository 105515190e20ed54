"""The children section: its checks refuse what breaks a parent's consent, and the page says it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from pydantic import ValidationError

from avowal.policy import document
from avowal.policy.content import Section
from avowal.policy.exceptions import PolicyInvalid, Problem
from avowal.policy.loader import LoadedPolicy, parse_text
from avowal.policy.schemas import AgeQuestion, Children, ParentalConsentMethod
from avowal.promises.ids import PromiseId
from tests.factories import EXAMPLE_POLICY, policy_text

Change = Callable[[dict[str, Any]], None]
PROMISE = "children need their parents' or guardians' permission"


def loaded(*changes: Change) -> LoadedPolicy:
    def change(d: dict[str, Any]) -> None:
        for c in changes:
            c(d)

    return parse_text(policy_text(change), "policy.yaml")


def problems_for(*changes: Change) -> list[Problem]:
    with pytest.raises(PolicyInvalid) as info:
        loaded(*changes)
    return info.value.problems


def at(problems: list[Problem], location: str) -> Problem:
    found = [p for p in problems if p.location == location]
    assert len(found) == 1, f"not one problem at {location}; got {[p.location for p in problems]}"
    assert PROMISE in (found[0].promise or "")
    return found[0]


def children(**values: Any) -> Change:
    return lambda d: d["children"].update(values)


def point(name: str, **values: Any) -> Change:
    return lambda d: d["collection_points"][name].update(values)


def birth_date(**values: Any) -> Change:
    return lambda d: d["collection_points"]["registration"]["fields"]["birth_date"].update(values)


def test_the_example_sets_every_children_key() -> None:
    kids = parse_text(EXAMPLE_POLICY.read_text()).policy.children
    assert kids is not None
    assert kids.consent_method is ParentalConsentMethod.email_plus
    assert kids.age_question is AgeQuestion.birth_date
    assert (kids.wait_days, kids.confirm_after_hours) == (14, 24)
    assert kids.optional_purposes == ["marketing.communications.email"]


def test_defaults_and_bounds() -> None:
    kids = Children(under=13)
    assert kids.age_question is AgeQuestion.birth_date
    assert (kids.wait_days, kids.confirm_after_hours, kids.optional_purposes) == (14, 24, [])
    for bad in (0, 169):
        with pytest.raises(ValidationError):
            Children(under=13, confirm_after_hours=bad)


# -- consent_method: email_plus ----------------------------------------------------------------


def test_email_plus_is_refused_when_a_minors_point_announces_an_outside_party() -> None:
    def controller(d: dict[str, Any]) -> None:
        d["recipients"]["payment_processor"]["kind"] = "controller"

    p = at(
        problems_for(point("purchase", admits_minors=True), controller), "children.consent_method"
    )
    assert "collection point 'purchase' admits minors" in p.message
    assert "recipient 'payment_processor' (kind controller)" in p.message
    assert "e-mail plus is allowed only when children's data is never disclosed to outside " in (
        p.message
    )
    assert "use signed_form, or stop announcing 'payment_processor' at 'purchase'" in p.message


# The purchase point has no date of birth: when it admits minors, they declare their age.
DECLARED = children(age_question="declaration")


def test_email_plus_allows_a_processor_at_a_minors_point() -> None:
    kids = loaded(point("purchase", admits_minors=True), DECLARED).policy
    assert kids.recipients["payment_processor"].kind.value == "processor"
    assert kids.collection_points["purchase"].admits_minors


def test_an_outside_party_at_an_adults_only_point_does_not_matter() -> None:
    def controller(d: dict[str, Any]) -> None:
        d["recipients"]["payment_processor"]["kind"] = "controller"

    assert loaded(controller).policy.recipients["payment_processor"].kind.value == "controller"


def test_signed_form_allows_an_outside_party_at_a_minors_point() -> None:
    def controller(d: dict[str, Any]) -> None:
        d["recipients"]["payment_processor"]["kind"] = "controller"

    policy = loaded(
        point("purchase", admits_minors=True),
        controller,
        DECLARED,
        children(consent_method="signed_form"),
    ).policy
    assert policy.children is not None
    assert policy.children.consent_method is ParentalConsentMethod.signed_form


# -- age_question: birth_date --------------------------------------------------------------------


def test_birth_date_needs_a_date_of_birth_field_at_each_minors_point() -> None:
    p = at(problems_for(point("contact", admits_minors=True)), "collection_points.contact")
    assert "no field of category user.demographic.date_of_birth" in p.message
    assert "or set age_question: declaration" in p.message


@pytest.mark.parametrize(
    ("change", "missing"),
    [
        (birth_date(type="text"), "is of type text: it must be"),
        (birth_date(required=False), "is not required: it must be"),
        (birth_date(storage="hash"), "is stored hash: it must be"),
        (birth_date(type="text", required=False), "is of type text and not required"),
    ],
)
def test_birth_date_field_must_be_a_required_full_date(change: Change, missing: str) -> None:
    p = at(problems_for(change), "collection_points.registration.fields.birth_date")
    assert "field 'birth_date' asks the age" in p.message
    assert missing in p.message


def test_a_declaration_needs_no_date_of_birth() -> None:
    def no_birth_date(d: dict[str, Any]) -> None:
        del d["collection_points"]["registration"]["fields"]["birth_date"]

    assert problems_for(no_birth_date)[0].location == "collection_points.registration"
    policy = loaded(
        no_birth_date, point("contact", admits_minors=True), children(age_question="declaration")
    ).policy
    assert policy.children is not None
    assert policy.children.age_question is AgeQuestion.declaration


def test_an_adults_only_point_needs_no_date_of_birth() -> None:
    # The purchase point has no date of birth and admits no minors.
    purchase = loaded().policy.collection_points["purchase"]
    assert not purchase.admits_minors
    assert "birth_date" not in purchase.fields


# -- optional_purposes ---------------------------------------------------------------------------


def test_an_optional_purpose_must_be_a_purpose_of_a_minors_point() -> None:
    # analytics.reporting is declared, but no point collects for it.
    p = at(
        problems_for(children(optional_purposes=["analytics.reporting"])),
        "children.optional_purposes[0]",
    )
    assert "'analytics.reporting' is not a purpose of any collection point that admits minors" in (
        p.message
    )
    assert "(those points: registration)" in p.message


def test_a_purpose_of_an_adults_only_point_cannot_be_optional() -> None:
    def purchase_marketing(d: dict[str, Any]) -> None:
        d["collection_points"]["purchase"]["field_purposes"] = {
            "email": ["marketing.communications.email"]
        }
        d["collection_points"]["registration"]["field_purposes"] = {}

    p = at(problems_for(purchase_marketing), "children.optional_purposes[0]")
    assert "not a purpose of any collection point that admits minors" in p.message


def test_a_point_wide_purpose_may_be_optional() -> None:
    def marketing_for_all(d: dict[str, Any]) -> None:
        d["collection_points"]["registration"]["field_purposes"] = {}
        d["collection_points"]["registration"]["purposes"].append("marketing.communications.email")

    policy = loaded(marketing_for_all).policy
    assert policy.children is not None
    assert policy.children.optional_purposes == ["marketing.communications.email"]


def test_an_essential_purpose_cannot_be_optional() -> None:
    p = at(
        problems_for(children(optional_purposes=["essential.service.authentication"])),
        "children.optional_purposes[0]",
    )
    assert "'essential.service.authentication' is essential" in p.message
    assert "the service itself cannot be optional" in p.message


# -- the page ------------------------------------------------------------------------------------


def children_section(*changes: Change) -> Section:
    doc = document.build(loaded(*changes))
    return next(s for s in doc.sections if s.id == "children")


def paragraphs(section: Section) -> dict[str, Any]:
    """Map each paragraph's words to its promise tag."""
    return {
        "".join(p if isinstance(p, str) else p.text for p in b.parts): b.promise
        for b in section.blocks
        if b.kind == "paragraph"
    }


def test_the_page_says_how_consent_works() -> None:
    paras = paragraphs(children_section())
    consent = {text for text, tag in paras.items() if tag == PromiseId.parental_consent}
    assert "To know whether you need that permission, we ask your date of birth." in consent
    assert (
        "Your parent or guardian gets an e-mail that says exactly what you gave us, why we want "
        "it and how long we would keep it. They answer with a link in it."
    ) in consent
    assert (
        "After they agree, a second message confirms it 1 day later. Only then do we use your "
        "data, and only for the purposes they agreed to."
    ) in consent
    assert (
        "They may agree to the rest and still say no to our using your data to inform you of "
        "service updates, new projects and other important and relevant information."
    ) in consent
    assert any("do not answer within 14 days, we erase it" in text for text in consent)
    assert paras["Forms open to people under 18, with that permission: Registration."] == (
        PromiseId.age_gate
    )


def test_the_page_follows_the_settings() -> None:
    words = "\n".join(
        paragraphs(
            children_section(
                children(
                    age_question="declaration",
                    confirm_after_hours=36,
                    optional_purposes=[],
                    consent_method="signed_form",
                )
            )
        )
    )
    assert "To know whether you need that permission, we ask whether you are under 18." in words
    assert "a second message confirms it 36 hours later" in words
    assert "say no to" not in words
    assert "link" not in words  # a signed form is not answered with a link
    assert "confirms it 2 days later" in "\n".join(
        paragraphs(children_section(children(confirm_after_hours=48)))
    )

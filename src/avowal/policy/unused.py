"""Warnings: parts of a valid policy that nothing uses, which most often is a mistake.

None of these makes a policy wrong, so they are warnings (``avowal policy check --strict``
refuses them): a recipient declared but announced at no collection point can never be given
anything, and a kind of message whose purpose no e-mail address is collected for can reach no
one, which are found otherwise only at run time; a purpose or custom key declared and never used
is either dead text or the trace of a typo.
"""

from __future__ import annotations

from collections.abc import Iterable

from avowal.policy.checks import purposes_of
from avowal.policy.exceptions import Problem
from avowal.policy.schemas import FieldType, Policy, Storage
from avowal.policy.taxonomy import LEGAL_OBLIGATION, SERVING_THE_PERSON, is_within

# Used by avowal itself whether or not the file uses them (legal disclosures, the back end).
_USED_BY_AVOWAL = (LEGAL_OBLIGATION, SERVING_THE_PERSON)


def warnings(policy: Policy) -> list[Problem]:
    """Return a warning for each declared part of ``policy`` that nothing uses."""
    return [
        *_unannounced_recipients(policy),
        *_unused_purposes(policy),
        *_unused_custom(policy),
        *_unreachable_communications(policy),
    ]


def _unannounced_recipients(p: Policy) -> Iterable[Problem]:
    announced = {r for point in p.collection_points.values() for r in point.recipients}
    for name in p.recipients:
        if name in announced or name in p.legal_disclosures.recipients:
            continue
        yield Problem(
            f"recipients.{name}",
            f"recipient '{name}' is declared but no collection point announces it, so nothing "
            "can ever be disclosed to it: add it to the recipients of the collection points "
            "whose data it receives, or remove it",
        )


def used_purposes(p: Policy) -> set[str]:
    """Return every data use the policy refers to outside its purposes section."""
    used = {u for point in p.collection_points.values() for u in point.purposes}
    used |= {
        u
        for point in p.collection_points.values()
        for us in point.field_purposes.values()
        for u in us
    }
    used |= {u for rec in p.recipients.values() for u in rec.purposes}
    used |= {c.purpose for c in p.cookies}
    used |= {u for role in p.staff.roles.values() for u in role.purposes}
    used |= {kind.purpose for kind in p.communications.values()}
    used |= {r.purpose for r in p.retention if r.purpose is not None}
    if p.analytics.enabled:
        used.add(p.analytics.purpose)
    if p.children is not None:
        used |= set(p.children.optional_purposes)
    return used


def _related(key: str, others: Iterable[str]) -> bool:
    """Tell whether ``key`` is one of ``others``, above one or below one."""
    return any(is_within(key, o) or is_within(o, key) for o in others)


def _unused_purposes(p: Policy) -> Iterable[Problem]:
    used = used_purposes(p)
    for key in p.purposes:
        if key not in _USED_BY_AVOWAL and not _related(key, used):
            yield Problem(
                f"purposes.{key}",
                f"purpose '{key}' is declared but nothing uses it (no collection point, "
                "recipient, cookie, staff role, message kind or retention rule): use it or "
                "remove it",
            )


def _unused_custom(p: Policy) -> Iterable[Problem]:
    t = p.taxonomy
    categories = {
        f.category for point in p.collection_points.values() for f in point.fields.values()
    }
    categories |= {c for rec in p.recipients.values() for c in rec.categories}
    categories |= {r.category for r in p.retention if r.category is not None}
    subjects = {s for point in p.collection_points.values() for s in point.subjects}
    groups = (
        ("data_categories", t.data_categories, categories, "no field, recipient or retention rule"),
        ("data_uses", t.data_uses, {*p.purposes, *used_purposes(p)}, "no purpose"),
        ("data_subjects", t.data_subjects, subjects, "no collection point"),
    )
    for group, items, used, nothing in groups:
        for i, item in enumerate(items):
            if not any(is_within(u, item.key) for u in used):
                yield Problem(
                    f"taxonomy.{group}[{i}]",
                    f"custom key '{item.key}' is declared but {nothing} uses it or a key below it",
                )


def _unreachable_communications(p: Policy) -> Iterable[Problem]:
    """News goes to e-mail addresses kept whole and collected for a purpose covering its own."""
    held = [
        purposes_of(p, point, name)
        for point, cp in p.collection_points.items()
        for name, spec in cp.fields.items()
        if spec.type is FieldType.email and spec.storage is Storage.full
    ]
    for key, kind in p.communications.items():
        if not any(is_within(kind.purpose, u) for uses in held for u in uses):
            yield Problem(
                f"communications.{key}.purpose",
                f"no collection point collects an e-mail address (type email, storage full) for "
                f"'{kind.purpose}' or a broader purpose, so messages of kind '{key}' can reach no "
                "one: add the purpose to such a field (field_purposes) or remove the kind",
            )

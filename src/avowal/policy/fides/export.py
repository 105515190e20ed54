"""A policy as a Fides manifest (see :mod:`avowal.policy.fides`)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from avowal.policy.checks import purposes_of
from avowal.policy.fides.common import (
    AFTER_WORDS,
    RECIPIENT_SYSTEM_TYPE,
    SYSTEM_TYPE,
    name_of,
    unique,
    writer,
)
from avowal.policy.fides.manifest import check_manifest
from avowal.policy.schemas import CustomKey, Policy, Recipient, RetentionRule
from avowal.policy.taxonomy import is_within


def _period(rule: RetentionRule) -> str:
    days = f"{rule.days} day{'s' if rule.days != 1 else ''} after {AFTER_WORDS[rule.after]}"
    return f"{rule.category}: {days}" if rule.category is not None else days


def _receives(rec: Recipient, use: str, categories: Sequence[str]) -> bool:
    """Tell whether a recipient is declared for some of what is collected for ``use``.

    As for a disclosure: a purpose within both the use and one of the recipient's purposes, and
    a category within one of the recipient's.
    """
    return any(is_within(use, d) or is_within(d, use) for d in rec.purposes) and any(
        is_within(c, d) for c in categories for d in rec.categories
    )


@dataclass
class _Use:
    """What the collection points collect for one purpose."""

    categories: list[str] = field(default_factory=list)
    subjects: list[str] = field(default_factory=list)
    recipients: list[str] = field(default_factory=list)
    shared: list[str] = field(default_factory=list)


def _collected(policy: Policy) -> dict[str, _Use]:
    """Group what every collection point collects by purpose, in the order of ``purposes``."""
    found: dict[str, _Use] = {}
    for point_name, point in policy.collection_points.items():
        by_use: dict[str, list[str]] = {}
        for field_name, spec in point.fields.items():
            for use in purposes_of(policy, point_name, field_name):
                by_use.setdefault(use, []).append(spec.category)
        for use, categories in by_use.items():
            entry = found.setdefault(use, _Use())
            entry.categories = unique([*entry.categories, *categories])
            entry.subjects = unique([*entry.subjects, *point.subjects])
            for rec_name in point.recipients:
                rec = policy.recipients.get(rec_name)
                if rec is None or not _receives(rec, use, categories):
                    continue
                entry.recipients = unique([*entry.recipients, rec_name])
                entry.shared = unique(
                    [
                        *entry.shared,
                        *(c for c in categories if any(is_within(c, d) for d in rec.categories)),
                    ]
                )
    return {use: found[use] for use in policy.purposes if use in found}


def _retention(policy: Policy, use: str, categories: Sequence[str]) -> str | None:
    """Say the retention rules that apply to what is collected for ``use``, or None."""
    parts = [
        _period(rule)
        for rule in policy.retention
        if (rule.purpose is not None and is_within(use, rule.purpose))
        or (rule.category is not None and any(is_within(c, rule.category) for c in categories))
    ]
    return "; ".join(unique(parts)) or None


def _keys(policy: Policy) -> tuple[str, str]:
    """Return the fides keys of the organisation's system and of its dataset."""
    base = name_of(policy.organisation.name)
    system = base
    while system in policy.recipients:
        system += "_system"
    return system, f"{base}_collected"


def export_manifest(policy: Policy) -> dict[str, Any]:
    """Describe a valid policy as a Fides manifest (plain data; see :func:`check_manifest`)."""
    org = policy.organisation
    system_key, dataset_key = _keys(policy)
    collected = _collected(policy)
    every_subject = unique(s for p in policy.collection_points.values() for s in p.subjects)
    declarations = []
    for use, entry in collected.items():
        declaration: dict[str, Any] = {
            "name": policy.purposes[use].description,
            "data_use": use,
            "data_categories": entry.categories,
            "data_subjects": entry.subjects,
            "dataset_references": [dataset_key],
        }
        period = _retention(policy, use, entry.categories)
        if period is not None:
            declaration["retention_period"] = period
        if entry.recipients:
            declaration["egress"] = entry.recipients
            declaration["data_shared_with_third_parties"] = True
            declaration["third_parties"] = "; ".join(
                policy.recipients[r].name for r in entry.recipients
            )
            declaration["shared_categories"] = entry.shared
        declarations.append(declaration)
    system: dict[str, Any] = {
        "fides_key": system_key,
        "name": org.name,
        "description": f"What {org.name} collects and why, as its privacy policy "
        f"({policy.policy.title}, effective {policy.policy.effective.isoformat()}) declares it.",
        "system_type": SYSTEM_TYPE,
        "legal_name": org.name,
        "dpo": str(org.privacy_contact),
        "responsibility": ["Controller"],
        "uses_cookies": bool(policy.cookies),
    }
    if org.postal_address is not None:
        system["legal_address"] = org.postal_address
    if policy.collection_points:
        system["dataset_references"] = [dataset_key]
    if policy.recipients:
        system["egress"] = [_flow(name, rec) for name, rec in policy.recipients.items()]
    system["privacy_declarations"] = declarations
    manifest: dict[str, Any] = {
        "system": [
            system,
            *(
                _recipient_system(policy, name, rec, system_key, every_subject)
                for name, rec in policy.recipients.items()
            ),
        ]
    }
    if policy.collection_points:
        manifest["dataset"] = [_dataset(policy, dataset_key)]
    manifest.update(_taxonomy(policy))
    return manifest


def _flow(key: str, rec: Recipient) -> dict[str, Any]:
    flow: dict[str, Any] = {"fides_key": key, "type": "system"}
    if rec.categories:
        flow["data_categories"] = list(rec.categories)
    return flow


def _recipient_system(
    policy: Policy, key: str, rec: Recipient, source: str, every_subject: list[str]
) -> dict[str, Any]:
    """A recipient as a system of its own, receiving from the organisation's."""
    announced = [p for p in policy.collection_points.values() if key in p.recipients]
    subjects = unique(s for p in announced for s in p.subjects) if announced else every_subject
    system: dict[str, Any] = {"fides_key": key, "name": rec.name}
    if rec.description is not None:
        system["description"] = rec.description
    system["system_type"] = RECIPIENT_SYSTEM_TYPE
    system["ingress"] = [_flow(source, rec)]
    system["privacy_declarations"] = [
        {
            "name": f"{rec.name}: {policy.purposes[use].description}",
            "data_use": use,
            "data_categories": list(rec.categories),
            "data_subjects": subjects,
            "ingress": [source],
        }
        for use in rec.purposes
    ]
    return system


def _dataset(policy: Policy, key: str) -> dict[str, Any]:
    collections = []
    for point_name, point in policy.collection_points.items():
        fields = []
        for field_name, spec in point.fields.items():
            entry: dict[str, Any] = {"name": field_name}
            if spec.label is not None:
                entry["description"] = spec.label
            entry["data_categories"] = [spec.category]
            extra = point.field_purposes.get(field_name)
            if extra:
                entry["data_uses"] = list(extra)
            fields.append(entry)
        collections.append(
            {
                "name": point_name,
                "description": point.title,
                "data_subjects": list(point.subjects),
                "data_uses": list(point.purposes),
                "fields": fields,
            }
        )
    name = policy.organisation.name
    return {
        "fides_key": key,
        "name": f"What {name} collects",
        "description": f"The collection points of {name}'s privacy policy: each collection is "
        "one, each field a value a person gives there.",
        "collections": collections,
    }


def _taxonomy(policy: Policy) -> dict[str, list[dict[str, Any]]]:
    """The policy's own keys as Fides resources (a parent in Fides is the key minus its last
    part)."""
    t = policy.taxonomy
    out: dict[str, list[dict[str, Any]]] = {}

    def entry(item: CustomKey, parent: bool) -> dict[str, Any]:
        data: dict[str, Any] = {"fides_key": item.key, "name": item.name}
        if parent:
            data["parent_key"] = item.key.rpartition(".")[0]
        if item.description is not None:
            data["description"] = item.description
        return data

    if t.data_categories:
        out["data_category"] = [entry(i, True) for i in t.data_categories]
    if t.data_uses:
        out["data_use"] = [entry(i, True) for i in t.data_uses]
    if t.data_subjects:
        # Fides's data subjects have no parent.
        out["data_subject"] = [entry(i, False) for i in t.data_subjects]
    return out


def manifest_yaml(policy: Policy, source: str) -> str:
    """Return the policy's Fides manifest as YAML text, checked with fideslang's models."""
    manifest = export_manifest(policy)
    problems = check_manifest(manifest)
    if problems:  # the mapping's own bug, never the policy's: it is valid
        raise ValueError("fideslang refuses the exported manifest: " + "; ".join(problems))
    out = StringIO()
    out.write(
        f"# {policy.organisation.name}'s privacy policy ({source}) as a Fides manifest, written "
        "by `avowal policy export --format fides`.\n"
    )
    writer().dump(manifest, out)
    return out.getvalue()

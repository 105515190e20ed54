"""Notices: exactly what a person sees before giving data at a collection point."""

from __future__ import annotations

import hashlib
from typing import Any

from avowal.crypto.signing import canonical
from avowal.policy.checks import purposes_of
from avowal.policy.loader import LoadedPolicy
from avowal.vault.exceptions import UnknownPoint

_cache: dict[tuple[str, str], dict[str, Any]] = {}


def notice(loaded: LoadedPolicy, point: str) -> dict[str, Any]:
    """Return the notice of a collection point, with ``notice_id`` hashing exactly its content."""
    key = (loaded.version_id, point)
    cached = _cache.get(key)
    if cached is None:
        cached = _cache[key] = _build(loaded, point)
    return cached


def _build(loaded: LoadedPolicy, point: str) -> dict[str, Any]:
    p = loaded.policy
    cp = p.collection_points.get(point)
    if cp is None:
        raise UnknownPoint(
            f"no collection point '{point}' in the policy",
            point=point,
            known=sorted(p.collection_points),
        )
    tax = loaded.taxonomy
    fields: list[dict[str, Any]] = [
        {
            "name": name,
            "label": f.label or name,
            "category": f.category,
            "category_name": tax.label("data_categories", f.category),
            "type": f.type.value,
            "required": f.required,
            "storage": f.storage.value,
            "purposes": purposes_of(p, point, name),
        }
        for name, f in cp.fields.items()
    ]
    uses = sorted({u for f in fields for u in f["purposes"]})
    categories = {f.category for f in cp.fields.values()}
    retention = [
        r.model_dump(mode="json", exclude_none=True)
        for r in p.retention
        if (r.category is not None and any(tax.is_within(c, r.category) for c in categories))
        or (r.purpose is not None and r.purpose in uses)
    ]
    content: dict[str, Any] = {
        "organisation": p.organisation.name,
        "privacy_contact": str(p.organisation.privacy_contact),
        "point": point,
        "title": cp.title,
        "fields": fields,
        "purposes": [{"key": u, "description": p.purposes[u].description} for u in uses],
        "recipients": [
            {
                "key": r,
                "name": p.recipients[r].name,
                "kind": p.recipients[r].kind.value,
                "country": p.recipients[r].country,
            }
            for r in cp.recipients
        ],
        "retention": retention,
        "minimum_age_without_parent": p.children.under if cp.admits_minors and p.children else None,
    }
    # The id covers what the person reads, not the version of the whole policy: an unrelated
    # change elsewhere in the policy leaves this notice, and the data collected under it, as is.
    notice_id = hashlib.sha256(canonical(content)).hexdigest()
    return {"notice_id": notice_id, "policy_version": loaded.version_id, **content}

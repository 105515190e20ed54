"""Notices: exactly what a person sees before giving data at a collection point."""

from __future__ import annotations

import hashlib
from typing import Any

from avowal.crypto.signing import canonical
from avowal.policy.checks import purposes_of
from avowal.policy.loader import LoadedPolicy
from avowal.vault.exceptions import UnknownPoint
from avowal.vault.schemas import Notice

_cache: dict[tuple[str, str], Notice] = {}


def notice(loaded: LoadedPolicy, point: str) -> Notice:
    """Return the notice of a collection point, with ``notice_id`` hashing exactly its content."""
    key = (loaded.version_id, point)
    if key not in _cache:
        _cache[key] = _build(loaded, point)
    return _cache[key]


def content(loaded: LoadedPolicy, point: str) -> dict[str, Any]:
    """Return what the person reads at a collection point: everything the notice id hashes."""
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
        r.model_dump(exclude_none=True)  # text and numbers only: as JSON reads them
        for r in p.retention
        if (r.category is not None and any(tax.is_within(c, r.category) for c in categories))
        # A rule for a purpose covers the values collected for it or for a use within it.
        or (r.purpose is not None and any(tax.is_within(u, r.purpose) for u in uses))
    ]
    return {
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


def notice_id(what: dict[str, Any]) -> str:
    """Return the id of a notice: the hash of everything the person reads in it."""
    return hashlib.sha256(canonical(what)).hexdigest()


def _build(loaded: LoadedPolicy, point: str) -> Notice:
    what = content(loaded, point)
    # The id covers what the person reads, not the version of the whole policy: an unrelated
    # change elsewhere in the policy leaves this notice, and the data collected under it, as is.
    return Notice(notice_id=notice_id(what), policy_version=loaded.version_id, **what)

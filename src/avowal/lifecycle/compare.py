"""Compare two policies part by part, listing every difference as a :class:`Delta`.

Named things (collection points, fields, recipients, kinds of messages, cookies, roles, retention
rules) are matched by name, so a renamed field reads as one removed and one added; lists of keys
(purposes, recipients of a point, subjects) report each key gained or lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from typing import Any

from pydantic import BaseModel, JsonValue

from avowal.lifecycle.delta import Area, Delta, Kind
from avowal.policy.schemas import CollectionPoint, Policy, RetentionRule

_SHOWN = 80


def show(value: JsonValue) -> str:
    """Return a value as a reader sees it in a summary, cut short."""
    if value is None:
        return "nothing"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return ", ".join(show(v) for v in value) or "none"
    if isinstance(value, dict):
        return ", ".join(f"{k} {show(v)}" for k, v in value.items())
    text = str(value)
    if len(text) > _SHOWN:
        text = text[: _SHOWN - 1] + "…"
    return f"“{text}”" if " " in text else text


def _dump(model: BaseModel | None) -> dict[str, Any]:
    return {} if model is None else model.model_dump(mode="json")


def _scalars(value: object) -> bool:
    return isinstance(value, list) and all(not isinstance(v, dict | list) for v in value)


def _items(
    area: Area, key: str, path: tuple[str, ...], before: list[Any], after: list[Any], noun: str
) -> Iterator[Delta]:
    """Report each item of a list gained or lost."""
    for item in after:
        if item not in before:
            yield Delta(area, key, Kind.added, None, item, path, f"{key} gains the {noun} {item}")
    for item in before:
        if item not in after:
            yield Delta(
                area, key, Kind.removed, item, None, path, f"{key} no longer has the {noun} {item}"
            )


def _fields(
    area: Area,
    prefix: str,
    path: tuple[str, ...],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    areas: Mapping[str, Area] | None = None,
) -> Iterator[Delta]:
    """Compare two JSON objects member by member, deep; ``areas`` moves members elsewhere."""
    for name in dict.fromkeys([*before, *after]):
        b, a = before.get(name), after.get(name)
        if b == a:
            continue
        key = f"{prefix}.{name}" if prefix else name
        where = (areas or {}).get(name, area)
        sub = (*path, name)
        if isinstance(b, dict) and isinstance(a, dict):
            yield from _fields(where, key, sub, b, a)
        elif isinstance(b, list) and isinstance(a, list) and _scalars(b) and _scalars(a):
            yield from _items(where, key, sub, b, a, "value")
        elif b is None:
            yield Delta(where, key, Kind.added, None, a, sub, f"{key} set to {show(a)}")
        elif a is None:
            yield Delta(where, key, Kind.removed, b, None, sub, f"{key} removed (was {show(b)})")
        else:
            summary = f"{key} changed from {show(b)} to {show(a)}"
            yield Delta(where, key, Kind.changed, b, a, sub, summary)


def _named(
    area: Area,
    noun: str,
    path: tuple[str, ...],
    before: Mapping[str, Any],
    after: Mapping[str, Any],
    title: Callable[[Any], str | None],
    both: Callable[[str, Any, Any], Iterator[Delta]],
    prefix: str = "",
) -> Iterator[Delta]:
    """Compare named things: each added, removed, or compared by ``both``."""
    for name in dict.fromkeys([*before, *after]):
        b, a = before.get(name), after.get(name)
        key = f"{prefix}.{name}" if prefix else name
        if b is None:
            t = title(a)
            summary = f"new {noun} {key}" + (f" ({show(t)})" if t else "")
            yield Delta(area, key, Kind.added, None, t or name, (*path, name), summary)
        elif a is None:
            t = title(b)
            summary = f"{noun} {key} removed"
            yield Delta(area, key, Kind.removed, t or name, None, (*path, name), summary)
        elif b != a:
            yield from both(name, b, a)


def _point(name: str, b: CollectionPoint, a: CollectionPoint) -> Iterator[Delta]:
    path = ("collection_points", name)
    about = {k: v for k, v in _dump(b).items() if k in ("title", "description", "subjects")}
    now = {k: v for k, v in _dump(a).items() if k in ("title", "description", "subjects")}
    yield from _fields(Area.collection_point, name, path, about, now)
    if b.admits_minors != a.admits_minors:
        key = f"{name}.admits_minors"
        says = "now admits" if a.admits_minors else "no longer admits"
        yield Delta(
            Area.children,
            key,
            Kind.changed,
            b.admits_minors,
            a.admits_minors,
            (*path, "admits_minors"),
            f"collection point {name} {says} people under the children's age",
        )

    def field(fname: str, bf: Any, af: Any) -> Iterator[Delta]:
        key, sub = f"{name}.{fname}", (*path, "fields", fname)
        bd, ad = _dump(bf), _dump(af)
        yield from _fields(Area.field, key, sub, bd, ad, {"category": Area.category})

    yield from _named(
        Area.field, "field", (*path, "fields"), b.fields, a.fields, _title, field, name
    )
    yield from _items(Area.purpose, name, (*path, "purposes"), b.purposes, a.purposes, "purpose")
    for fname in dict.fromkeys([*b.field_purposes, *a.field_purposes]):
        yield from _items(
            Area.purpose,
            f"{name}.{fname}",
            (*path, "field_purposes", fname),
            b.field_purposes.get(fname, []),
            a.field_purposes.get(fname, []),
            "purpose",
        )
    yield from _items(
        Area.recipient, name, (*path, "recipients"), b.recipients, a.recipients, "recipient"
    )


def retention_key(rule: RetentionRule) -> str:
    """Name a retention rule by what it covers: a category, a purpose, or both."""
    if rule.category and rule.purpose:
        return f"{rule.category} for {rule.purpose}"
    return rule.category or rule.purpose or "everything"


def _attributes(
    area: Area, path: tuple[str, ...], prefix: str = ""
) -> Callable[[str, Any, Any], Iterator[Delta]]:
    """Compare two named models attribute by attribute."""

    def both(name: str, b: Any, a: Any) -> Iterator[Delta]:
        key = f"{prefix}.{name}" if prefix else name
        yield from _fields(area, key, (*path, name), _dump(b), _dump(a))

    return both


def _title(model: Any) -> str | None:
    for attr in ("title", "label", "name", "description"):
        value = getattr(model, attr, None)
        if isinstance(value, str):
            return value
    return None


def _retention(old: Policy, new: Policy) -> Iterator[Delta]:
    def rules(p: Policy) -> dict[str, RetentionRule]:
        out: dict[str, RetentionRule] = {}
        for rule in p.retention:
            out.setdefault(retention_key(rule), rule)
        return out

    def brief(rule: RetentionRule) -> str:
        return f"{rule.days} days after {rule.after.replace('_', ' ')}"

    yield from _named(
        Area.retention,
        "rule",
        ("retention",),
        rules(old),
        rules(new),
        brief,
        _attributes(Area.retention, ("retention",), "retention"),
        "retention",
    )


def _points(old: Policy, new: Policy) -> Iterator[Delta]:
    yield from _named(
        Area.collection_point,
        "collection point",
        ("collection_points",),
        old.collection_points,
        new.collection_points,
        _title,
        _point,
    )


def _declared(old: Policy, new: Policy) -> Iterator[Delta]:
    yield from _named(
        Area.purpose,
        "purpose",
        ("purposes",),
        old.purposes,
        new.purposes,
        _title,
        _attributes(Area.purpose, ("purposes",)),
    )
    yield from _named(
        Area.recipient,
        "recipient",
        ("recipients",),
        old.recipients,
        new.recipients,
        _title,
        _attributes(Area.recipient, ("recipients",)),
    )
    kinds = (
        ("data_categories", Area.category, "data category"),
        ("data_uses", Area.purpose, "data use"),
        ("data_subjects", Area.other, "data subject"),
    )
    for kind, area, noun in kinds:
        path = ("taxonomy", kind)
        yield from _named(
            area,
            noun,
            path,
            {k.key: k for k in getattr(old.taxonomy, kind)},
            {k.key: k for k in getattr(new.taxonomy, kind)},
            _title,
            _attributes(area, path),
        )


def _communications(old: Policy, new: Policy) -> Iterator[Delta]:
    # A kind of message is a use of the data under its purpose, so it shows with the purposes.
    yield from _named(
        Area.purpose,
        "kind of message",
        ("communications",),
        old.communications,
        new.communications,
        _title,
        _attributes(Area.purpose, ("communications",), "communications"),
        "communications",
    )


def _cookies(old: Policy, new: Policy) -> Iterator[Delta]:
    yield from _named(
        Area.cookie,
        "cookie",
        ("cookies",),
        {c.name: c for c in old.cookies},
        {c.name: c for c in new.cookies},
        lambda c: c.category,
        _attributes(Area.cookie, ("cookies",)),
    )
    yield from _fields(
        Area.cookie,
        "cookie_rules",
        ("cookie_rules",),
        _dump(old.cookie_rules),
        _dump(new.cookie_rules),
    )


def _children(old: Policy, new: Policy) -> Iterator[Delta]:
    b, a = old.children, new.children
    path = ("children",)
    if b is None and a is not None:
        summary = f"new rule for children under {a.under}"
        yield Delta(Area.children, "children", Kind.added, None, a.under, path, summary)
    elif b is not None and a is None:
        summary = f"the rule for children under {b.under} is removed"
        yield Delta(Area.children, "children", Kind.removed, b.under, None, path, summary)
    else:
        yield from _fields(Area.children, "children", path, _dump(b), _dump(a))


def _roles(old: Policy, new: Policy) -> Iterator[Delta]:
    path = ("staff", "roles")
    yield from _named(
        Area.role,
        "staff role",
        path,
        old.staff.roles,
        new.staff.roles,
        _title,
        _attributes(Area.role, path),
    )
    rest_b = {k: v for k, v in _dump(old.staff).items() if k != "roles"}
    rest_a = {k: v for k, v in _dump(new.staff).items() if k != "roles"}
    yield from _fields(Area.staff, "staff", ("staff",), rest_b, rest_a)


def _sections(old: Policy, new: Policy) -> Iterator[Delta]:
    """Compare the sections that are plain settings, member by member."""
    plain: tuple[tuple[str, Area, dict[str, Area]], ...] = (
        ("commitments", Area.commitments, {"parental_consent_under": Area.children}),
        ("changes", Area.changes_rule, {}),
        ("legal_disclosures", Area.legal, {}),
        ("security", Area.security, {}),
        ("organisation", Area.organisation, {}),
        ("policy", Area.other, {}),
    )
    for name, area, areas in plain:
        b, a = _dump(getattr(old, name)), _dump(getattr(new, name))
        yield from _fields(area, name, (name,), b, a, areas)
    b, a = _dump(old.analytics), _dump(new.analytics)
    for data in (b, a):
        data["sites"] = {s["domain"]: s for s in data["sites"]}
    yield from _fields(Area.analytics, "analytics", ("analytics",), b, a)
    if old.avowal != new.avowal:
        summary = f"file format {old.avowal} becomes {new.avowal}"
        yield Delta(
            Area.other, "avowal", Kind.changed, old.avowal, new.avowal, ("avowal",), summary
        )


# Every part of the policy, in the order a reader meets them.
STEPS: tuple[Callable[[Policy, Policy], Iterator[Delta]], ...] = (
    _points,
    _declared,
    _communications,
    _cookies,
    _retention,
    _children,
    _roles,
    _sections,
)


def compare(old: Policy, new: Policy) -> list[Delta]:
    """List every difference between two policies, part by part."""
    return [delta for step in STEPS for delta in step(old, new)]

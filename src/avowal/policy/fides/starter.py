"""A Fides system as a starter policy, its gaps marked (see :mod:`avowal.policy.fides`)."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from io import StringIO
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.comments import CommentedMap, CommentedSeq

from avowal.policy import locations
from avowal.policy.fides.common import (
    EMAIL,
    FIELD_TYPES,
    GAP_MARK,
    PERIOD,
    name_of,
    unique,
    writer,
)
from avowal.policy.fides.manifest import Manifest
from avowal.policy.schemas import FieldType
from avowal.policy.taxonomy import default_taxonomy, is_within


@dataclass(frozen=True)
class Gap:
    """Something Fides does not know: where ``avowal policy check`` reports it, what goes there.

    ``location`` is as the check writes it; ``path`` its parts (purpose keys hold dots).
    """

    location: str
    hint: str
    path: locations.Loc


@dataclass(frozen=True)
class Starter:
    """A starter policy made from a Fides system, and its gaps."""

    text: str
    gaps: tuple[Gap, ...]
    system: str
    organisation: str
    collection_points: int
    recipients: int


@dataclass
class _Recipient:
    key: str
    name: str
    description: str | None = None
    purposes: list[str] = field(default_factory=list)
    categories: list[str] = field(default_factory=list)


def _text(value: Any) -> str | None:
    """A non-empty string, stripped, or None."""
    return value.strip() if isinstance(value, str) and value.strip() else None


def _title(key: str) -> str:
    words = re.sub(r"[_.\-]+", " ", key).strip()
    return words[:1].upper() + words[1:] if words else key


def _email(*candidates: Any) -> str | None:
    for candidate in candidates:
        text = _text(candidate)
        if text is None:
            continue
        try:
            return str(EMAIL.validate_python(text))
        except ValidationError:
            continue
    return None


def _personal(category: str) -> bool:
    """Tell whether a data category is about a person (fideslang's ``user``), not the system."""
    return is_within(category, "user")


def _field_type(category: str) -> FieldType:
    return next((t for key, t in FIELD_TYPES if is_within(category, key)), FieldType.text)


def _flat_fields(fields: Sequence[Any], prefix: str = "") -> Iterable[tuple[str, Any]]:
    """Every field with data categories, nested ones named ``parent_child``."""
    for f in fields:
        name = f"{prefix}_{f.name}" if prefix else str(f.name)
        yield name, f
        if f.fields:
            yield from _flat_fields(f.fields, name)


def _parse_period(text: str) -> list[tuple[str | None, int, str]] | None:
    """Read a retention period as export writes it (``365 days after account closure``, or a
    number of days); None when some part says something else."""
    parts = []
    for part in text.split(";"):
        match = PERIOD.match(part.strip())
        if match is None or int(match["days"]) < 1:
            return None
        after = (match["after"] or "collection").lower().replace(" ", "_")
        parts.append((match["category"], int(match["days"]), after))
    return parts


class _Builder:
    """Build the starter policy of one system of a manifest, gap by gap."""

    def __init__(self, manifest: Manifest, system: Any) -> None:
        self.m = manifest
        self.s = system
        self.declarations: tuple[Any, ...] = manifest.declarations[system.fides_key]
        self.gaps: list[Gap] = []
        self.recipients: dict[str, _Recipient] = {}
        # The recipients (keys of self.recipients) each declaration shares data with.
        self.shares: list[list[str]] = []
        # Every use a collection point collects for (declared under purposes with the rest).
        self.point_uses: list[str] = []

    def gap(self, node: CommentedMap, key: str, path: locations.Loc, hint: str) -> None:
        node[key] = None
        node.yaml_add_eol_comment(f"{GAP_MARK} {hint}", key)
        self.gaps.append(Gap(locations.dotted(path), hint, path))

    def build(self, source: str) -> CommentedMap:
        root = CommentedMap()
        root.yaml_set_start_comment(
            f"A starter avowal policy made from the Fides system '{self.s.fides_key}' of "
            f"{source} by\n`avowal policy import-fides`. Each empty value marked '{GAP_MARK}' "
            "is something Fides does not know:\n`avowal policy check` lists them until they "
            "are filled in (the format: docs/policy-format.md)."
        )
        root["avowal"] = 1
        self.find_recipients()
        root["organisation"] = self.organisation()
        root["policy"] = self.policy_meta()
        taxonomy = self.taxonomy()
        if taxonomy:
            root["taxonomy"] = taxonomy
        # The points first: the purposes they collect for are declared too.
        points, where = self.collection_points()
        root["purposes"] = self.purposes()
        _comment(root, "purposes", "The data uses of the Fides privacy declarations.")
        if points:
            root["collection_points"] = points
            _comment(root, "collection_points", f"From Fides: {where}.")
        if self.recipients:
            root["recipients"] = self.recipients_section()
            _comment(
                root,
                "recipients",
                "From Fides: the systems this one sends data to (egress) and the third parties "
                "its declarations name;\neach point's announcements are yours to make (the "
                "gaps name whom Fides says its data goes to).",
            )
        if self.s.uses_cookies:
            self.gap(
                root,
                "cookies",
                ("cookies",),
                "Fides says the system uses cookies: declare each (name, provider, category, "
                "lifetime, purpose)",
            )
        root["staff"] = self.staff()
        _comment(root, "staff", "Fides does not know who sees personal data.")
        retention = self.retention()
        if retention:
            root["retention"] = retention
            _comment(root, "retention", "From the retention periods of the Fides declarations.")
        root["changes"] = self.changes()
        return root

    # -- organisation, policy, taxonomy, purposes ------------------------------------------
    def organisation(self) -> CommentedMap:
        s = self.s
        org = self.m.organizations.get(s.organization_fides_key)
        controller = org.controller if org is not None else None
        officer = org.data_protection_officer if org is not None else None
        org_name = (
            _text(org.name) if org is not None and org.fides_key != "default_organization" else None
        )
        node = CommentedMap()
        node["name"] = _text(s.legal_name) or org_name or _text(s.name) or s.fides_key
        contact = _email(
            s.dpo, officer.email if officer else None, controller.email if controller else None
        )
        if contact is not None:
            node["privacy_contact"] = contact
        else:
            self.gap(
                node,
                "privacy_contact",
                ("organisation", "privacy_contact"),
                "the e-mail address people write to about privacy (Fides gives none in dpo)",
            )
        address = _text(s.legal_address) or (_text(controller.address) if controller else None)
        if address is not None:
            node["postal_address"] = address
        return node

    def policy_meta(self) -> CommentedMap:
        node = CommentedMap()
        node["title"] = "Privacy Policy"
        self.gap(node, "effective", ("policy", "effective"), "the day it takes effect, YYYY-MM-DD")
        return node

    def taxonomy(self) -> CommentedMap:
        """The manifest's own keys (not fideslang's defaults) below another key."""
        defaults = default_taxonomy()
        node = CommentedMap()
        groups = (
            ("data_categories", self.m.data_categories, defaults.data_categories),
            ("data_uses", self.m.data_uses, defaults.data_uses),
            ("data_subjects", self.m.data_subjects, defaults.data_subjects),
        )
        for group, entries, known in groups:
            items = CommentedSeq()
            custom = [e for e in entries if e.fides_key not in known and not e.is_default]
            # Parents before their children: the check reads the list in order.
            for entry in sorted(custom, key=lambda e: (e.fides_key.count("."), e.fides_key)):
                parent = getattr(entry, "parent_key", None) or entry.fides_key.rpartition(".")[0]
                if not parent:
                    continue  # a top-level key: a policy's own keys lie below a known one
                item = CommentedMap()
                item["key"] = entry.fides_key
                item["parent"] = parent
                item["name"] = _text(entry.name) or entry.fides_key
                description = _text(entry.description)
                if description is not None:
                    item["description"] = description
                items.append(item)
            if items:
                node[group] = items
        return node

    def purposes(self) -> CommentedMap:
        own = [d.data_use for d in self.declarations]
        received = [u for r in self.recipients.values() for u in r.purposes]
        node = CommentedMap()
        for use in sorted(unique([*own, *received, *self.point_uses])):
            called = "; ".join(
                unique(n for d in self.declarations if d.data_use == use and (n := _text(d.name)))
            )
            entry = CommentedMap()
            self.gap(
                entry,
                "description",
                ("purposes", use, "description"),
                "why the data is used, in plain words for the people it is about"
                + (f" (Fides calls it: {called})" if called else ""),
            )
            node[use] = entry
        return node

    # -- recipients ------------------------------------------------------------------------
    def find_recipients(self) -> None:
        """The systems this one sends data to, and the third parties its declarations name."""
        systems = {s.fides_key: s for s in self.m.systems}
        flows = {
            f.fides_key: f
            for f in self.s.egress or []
            if f.type == "system" and f.fides_key != self.s.fides_key
        }

        def taken() -> list[str]:
            return [r.key for r in self.recipients.values()]

        for key, flow in flows.items():
            other = systems.get(key)
            rec = _Recipient(
                key=name_of(key, taken()),
                name=(_text(other.name) if other is not None else None) or _title(key),
            )
            if other is not None:
                rec.description = _text(other.description)
                for d in self.m.declarations[key]:
                    rec.purposes = unique([*rec.purposes, d.data_use])
                    rec.categories = unique([*rec.categories, *d.data_categories])
            rec.categories = unique([*rec.categories, *(flow.data_categories or [])])
            self.recipients[key] = rec
        for d in self.declarations:
            shares = [k for k in d.egress or [] if k in flows]
            third_parties = _text(d.third_parties)
            if not shares and third_parties is not None:
                source = f"third parties: {third_parties}"
                if source not in self.recipients:
                    self.recipients[source] = _Recipient(
                        key=name_of(third_parties, taken()), name=third_parties
                    )
                shares = [source]
            for source in shares:
                rec = self.recipients[source]
                rec.purposes = unique([*rec.purposes, d.data_use])
                rec.categories = unique(
                    [*rec.categories, *(d.shared_categories or d.data_categories)]
                )
            self.shares.append(shares)

    def recipients_section(self) -> CommentedMap:
        node = CommentedMap()
        for rec in self.recipients.values():
            loc = ("recipients", rec.key)
            entry = CommentedMap()
            entry["name"] = rec.name
            self.gap(
                entry,
                "kind",
                (*loc, "kind"),
                "processor (acts for you), controller, authority, buyer (you sell it the data) "
                "or partner (you share it for its own ends)",
            )
            self.gap(entry, "country", (*loc, "country"), "where it is, ISO 3166 alpha-2 (US, FR)")
            if rec.purposes:
                entry["purposes"] = _flow_list(rec.purposes)
            if rec.categories:
                entry["categories"] = _flow_list(rec.categories)
            if rec.description is not None:
                entry["description"] = rec.description
            node[rec.key] = entry
        return node

    def announced(self, uses: Sequence[str], categories: Sequence[str]) -> list[str]:
        """The recipients a point may announce: those a declaration of one of its uses shares
        some of its data categories with (named in the point's gap, never announced by
        themselves)."""
        found = []
        for d, shares in zip(self.declarations, self.shares, strict=True):
            if d.data_use not in uses:
                continue
            for source in shares:
                rec = self.recipients[source]
                if any(is_within(c, r) for c in categories for r in rec.categories):
                    found.append(rec.key)
        return unique(found)

    # -- collection points -----------------------------------------------------------------
    def collection_points(self) -> tuple[CommentedMap, str]:
        node = CommentedMap()
        refs = unique(
            [
                *(self.s.dataset_references or []),
                *(k for d in self.declarations for k in d.dataset_references or []),
            ]
        )
        collections = [
            (key, c)
            for key in refs
            if key in self.m.datasets
            for c in self.m.datasets[key].collections
        ]
        if collections:
            for dataset_key, collection in collections:
                self.point_of_collection(node, dataset_key, collection)
            return node, "each collection of the system's datasets is a collection point"
        for d, shares in zip(self.declarations, self.shares, strict=True):
            self.point_of_declaration(node, d, shares)
        return node, "each privacy declaration is a collection point (the system names no dataset)"

    def point_of_collection(self, node: CommentedMap, dataset_key: str, collection: Any) -> None:
        """A collection point of a dataset's collection: its fields with data categories."""
        found = [
            (name, category, f)
            for name, f in _flat_fields(collection.fields)
            for category in f.data_categories or collection.data_categories or []
            if _personal(category)
        ]
        if not found:
            return  # no personal data, as far as Fides says
        key = name_of(collection.name, node)
        loc = ("collection_points", key)
        fields = CommentedMap()
        categories: list[str] = []
        # Each field's own uses: the dataset's (fideslang >= 3.1), else the declarations'.
        declared = getattr(collection, "data_uses", None)
        field_uses: dict[str, list[str]] = {}
        for fname, category, f in found:
            several = sum(1 for n, _, _ in found if n == fname) > 1
            name = name_of(f"{fname}_{category.rpartition('.')[2]}" if several else fname, fields)
            fields[name] = self.field(loc, name, category, f.description)
            categories.append(category)
            own = getattr(f, "data_uses", None) or []
            field_uses[name] = unique(
                [*own, *([] if declared else self.declared_for(category, dataset_key))]
            )
        if declared:
            uses = unique(declared)
        else:
            everywhere = unique(u for us in field_uses.values() for u in us)
            uses = [u for u in everywhere if all(u in us for us in field_uses.values())]
        extra = {n: [u for u in us if u not in uses] for n, us in field_uses.items()}
        every_use = unique([*uses, *(u for us in extra.values() for u in us)])
        subjects = getattr(collection, "data_subjects", None) or unique(
            s for d in self.declarations if d.data_use in every_use for s in d.data_subjects
        )
        point = CommentedMap()
        point["title"] = _text(collection.description) or _title(collection.name)
        self.subjects(point, loc, subjects, "the collection")
        point["fields"] = fields
        if uses:
            point["purposes"] = _flow_list(uses)
        else:
            self.gap(
                point,
                "purposes",
                (*loc, "purposes"),
                "what every field here is collected for: Fides declares uses for some fields "
                "only (field_purposes)",
            )
        more = {n: us for n, us in extra.items() if us}
        if more:
            point["field_purposes"] = CommentedMap((n, _flow_list(us)) for n, us in more.items())
        self.announcement(point, loc, self.announced(every_use, categories))
        self.point_uses.extend(every_use)
        node[key] = point

    def announcement(
        self, point: CommentedMap, loc: locations.Loc, candidates: Sequence[str]
    ) -> None:
        """Leave the recipients a point announces to a person: a gap naming those Fides says
        receive its data (a declaration covering several points would announce them at points
        that share nothing), none where Fides shares nothing."""
        if candidates:
            self.gap(
                point,
                "recipients",
                (*loc, "recipients"),
                "the recipients announced to people here ([] for none); Fides says this data "
                f"is shared with {', '.join(candidates)}",
            )

    def declared_for(self, category: str, dataset_key: str) -> list[str]:
        """The uses of the declarations covering ``category`` (and this dataset, when they name
        datasets)."""
        return [
            d.data_use
            for d in self.declarations
            if (not d.dataset_references or dataset_key in d.dataset_references)
            and any(is_within(category, c) or is_within(c, category) for c in d.data_categories)
        ]

    def point_of_declaration(self, node: CommentedMap, d: Any, shares: list[str]) -> None:
        """A collection point of a privacy declaration: a field for each data category."""
        categories = unique(c for c in d.data_categories if _personal(c))
        if not categories:
            return
        key = name_of(_text(d.name) or d.data_use, node)
        loc = ("collection_points", key)
        point = CommentedMap()
        point["title"] = _text(d.name) or _title(d.data_use)
        self.subjects(point, loc, d.data_subjects, "the declaration")
        fields = CommentedMap()
        for category in categories:
            name = name_of(category.rpartition(".")[2], fields)
            fields[name] = self.field(loc, name, category, None)
        point["fields"] = fields
        point["purposes"] = _flow_list([d.data_use])
        self.announcement(point, loc, [self.recipients[s].key for s in shares])
        self.point_uses.append(d.data_use)
        node[key] = point

    def subjects(
        self, point: CommentedMap, loc: locations.Loc, subjects: Sequence[str], what: str
    ) -> None:
        if subjects:
            point["subjects"] = _flow_list(subjects)
        else:
            self.gap(
                point,
                "subjects",
                (*loc, "subjects"),
                f"whose data this is (data subjects, e.g. [customer]): Fides names none for {what}",
            )

    def field(self, loc: locations.Loc, name: str, category: str, label: Any) -> CommentedMap:
        spec = CommentedMap()
        if _text(label) is not None:
            spec["label"] = _text(label)
        spec["category"] = category
        kind = _field_type(category)
        if kind is not FieldType.text:
            spec["type"] = kind.value
        self.gap(
            spec,
            "storage",
            (*loc, "fields", name, "storage"),
            "how the vault keeps it: full, last4, hash or none"
            + {FieldType.card: " (a card number: never full)", FieldType.password: " (none)"}.get(
                kind, ""
            ),
        )
        return spec

    # -- staff, retention, changes ---------------------------------------------------------
    def staff(self) -> CommentedMap:
        agreement = CommentedMap()
        self.gap(
            agreement,
            "version",
            ("staff", "confidentiality", "version"),
            "the version of the confidentiality agreement staff sign",
        )
        self.gap(agreement, "text", ("staff", "confidentiality", "text"), "its words")
        node = CommentedMap()
        node["confidentiality"] = agreement
        self.gap(
            node,
            "roles",
            ("staff", "roles"),
            "who may see personal data: role -> title, purposes, kinds (as in `avowal init`)",
        )
        return node

    def retention(self) -> CommentedSeq:
        """The rules the declarations' retention periods state; a gap for each other use."""
        rules = CommentedSeq()
        seen: set[tuple[str, str, int, str]] = set()
        for use in unique(d.data_use for d in self.declarations):
            said = unique(
                t
                for d in self.declarations
                if d.data_use == use and (t := _text(d.retention_period))
            )
            periods = [parts for t in said if (parts := _parse_period(t)) is not None]
            for category, days, after in (part for parts in periods for part in parts):
                which, key = ("purpose", use) if category is None else ("category", category)
                if (which, key, days, after) in seen:
                    continue
                seen.add((which, key, days, after))
                rule = CommentedMap()
                rule[which] = key
                rule["days"] = days
                rule["after"] = after
                rules.append(rule)
            if periods:
                continue
            rule = CommentedMap()
            rule["purpose"] = use
            self.gap(
                rule,
                "days",
                ("retention", len(rules), "days"),
                "days until it is erased, after collection (or set after: last_activity or "
                "account_closure); or delete this rule"
                + (f" (Fides says: {'; '.join(said)})" if said else ""),
            )
            rules.append(rule)
        return rules

    def changes(self) -> CommentedMap:
        node = CommentedMap()
        self.gap(
            node,
            "notice_days",
            ("changes", "notice_days"),
            "how many days before a change applies it is announced",
        )
        return node


def _flow_list(items: Iterable[str]) -> CommentedSeq:
    """A list, on one line (``[a, b]``) when it is short."""
    seq = CommentedSeq(unique(items))
    if len(", ".join(seq)) <= 64:
        seq.fa.set_flow_style()
    return seq


def _comment(node: CommentedMap, key: str, text: str) -> None:
    node.yaml_set_comment_before_after_key(key, before="\n" + text)


def starter_policy(manifest: Manifest, system: Any, source: str) -> Starter:
    """Make a starter policy of ``system`` (one of the manifest's), with its gaps."""
    builder = _Builder(manifest, system)
    root = builder.build(source)
    out = StringIO()
    writer().dump(root, out)
    text = out.getvalue()
    # The gaps in the order of the file, as `avowal policy check` lists them.
    tree = YAML().load(text)
    gaps = sorted(
        builder.gaps,
        key=lambda g: locations.position(tree, g.path)[0] or 0,
    )
    points = root.get("collection_points") or {}
    return Starter(
        text=text,
        gaps=tuple(gaps),
        system=system.fides_key,
        organisation=root["organisation"]["name"],
        collection_points=len(points),
        recipients=len(builder.recipients),
    )

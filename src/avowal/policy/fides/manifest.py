"""Reading and checking a Fides manifest with fideslang's models (:mod:`avowal.policy.fides`)."""

from __future__ import annotations

import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fideslang.models import (
    DataCategory,
    Dataset,
    DataSubject,
    DataUse,
    Organization,
    PrivacyDeclaration,
    System,
)
from pydantic import BaseModel, ValidationError
from ruamel.yaml.error import MarkedYAMLError, YAMLError

from avowal.policy import loader, locations
from avowal.policy.exceptions import PolicyInvalid, Problem
from avowal.policy.fides.common import MAX_MANIFEST_BYTES

# Each section of a manifest this bridge reads, and the fideslang model of its entries.
SECTIONS: dict[str, type[BaseModel]] = {
    "system": System,
    "dataset": Dataset,
    "organization": Organization,
    "data_category": DataCategory,
    "data_use": DataUse,
    "data_subject": DataSubject,
}


class ManifestInvalid(Exception):
    """The file is not a Fides manifest this bridge can read; ``problems`` says why."""

    def __init__(self, problems: list[Problem], filename: str) -> None:
        self.problems = problems
        self.filename = filename
        super().__init__("\n".join(p.render(filename) for p in problems))


def _validate(model: type[BaseModel], data: Any) -> BaseModel:
    with warnings.catch_warnings():
        # fideslang warns that a system's `cookies` are ignored; so they are, here too.
        warnings.simplefilter("ignore")
        return model.model_validate(data)


def _named(section: str, data: Any) -> Any:
    """Give unnamed privacy declarations an empty name: fideslang sorts them by name, and a
    missing one would make it fail with a TypeError instead of a validation error."""
    if section != "system" or not isinstance(data, dict):
        return data
    declarations = data.get("privacy_declarations")
    if not isinstance(declarations, list):
        return data
    named = [
        {**d, "name": ""} if isinstance(d, dict) and d.get("name") is None else d
        for d in declarations
    ]
    return {**data, "privacy_declarations": named}


def check_manifest(manifest: Any) -> list[str]:
    """Return what fideslang's models refuse in a manifest (empty when every entry is valid)."""
    return [p.render() for p in _check(manifest)]


def _check(manifest: Any, tree: Any = None) -> list[Problem]:
    problems: list[Problem] = []

    def add(loc: tuple[str | int, ...], message: str) -> None:
        line, column = locations.position(tree, loc) if tree is not None else (None, None)
        problems.append(Problem(locations.dotted(loc), message, line=line, column=column))

    if not isinstance(manifest, dict):
        add((), "a Fides manifest is a YAML mapping with a `system:` list")
        return problems
    systems = manifest.get("system")
    if not isinstance(systems, list) or not systems:
        found = ", ".join(str(k) for k in manifest) or "nothing"
        policy = " (this is an avowal policy)" if "avowal" in manifest else ""
        add(
            ("system",) if "system" in manifest else (),
            f"a Fides system manifest lists its systems under `system:` (found: {found}){policy}",
        )
        return problems
    for section, model in SECTIONS.items():
        entries = manifest.get(section)
        if entries is None:
            continue
        if not isinstance(entries, list):
            add((section,), f"a list of fideslang {model.__name__} entries")
            continue
        keys: dict[str, int] = {}
        for i, data in enumerate(entries):
            try:
                entry = _validate(model, _named(section, data))
            except ValidationError as exc:
                for err in exc.errors():
                    loc = tuple(
                        p
                        for p in err["loc"]
                        if not (isinstance(p, str) and p.startswith("function-"))
                    )
                    add((section, i, *loc), err["msg"])
                continue
            key = getattr(entry, "fides_key", None)
            if isinstance(key, str) and key in keys:
                add((section, i, "fides_key"), f"'{key}' is also the key of {section}[{keys[key]}]")
            elif isinstance(key, str):
                keys[key] = i
    return problems


@dataclass(frozen=True)
class Manifest:
    """A Fides manifest's entries as fideslang models, in the file's order."""

    systems: tuple[Any, ...]
    # Each system's privacy declarations in the file's order (fideslang sorts them by name).
    declarations: dict[str, tuple[Any, ...]]
    datasets: dict[str, Any]
    organizations: dict[str, Any]
    data_categories: tuple[Any, ...]
    data_uses: tuple[Any, ...]
    data_subjects: tuple[Any, ...]


def parse_manifest(text: str, filename: str) -> Manifest:
    """Parse and check a Fides manifest; raise :class:`ManifestInvalid` listing every problem."""
    try:
        tree = loader._limited_yaml(filename).load(text)
    except PolicyInvalid as exc:  # past the limits on nesting, aliases or values
        raise ManifestInvalid(exc.problems, filename) from None
    except RecursionError:
        raise ManifestInvalid([Problem("", "nested too deeply")], filename) from None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        reason = exc.problem or exc.context or "malformed YAML"
        raise ManifestInvalid(
            [
                Problem(
                    "",
                    f"malformed YAML: {reason}",
                    line=mark.line + 1 if mark else None,
                    column=mark.column + 1 if mark else None,
                )
            ],
            filename,
        ) from None
    except YAMLError as exc:
        raise ManifestInvalid([Problem("", f"malformed YAML: {exc}")], filename) from None
    data = loader._plain(tree)
    problems = _check(data, tree)
    if problems:
        raise ManifestInvalid(problems, filename)
    return _manifest(data)


def load_manifest(path: Path) -> Manifest:
    """Read and check a Fides manifest file."""
    try:
        text = loader.read_limited(path, MAX_MANIFEST_BYTES, "manifest")
    except PolicyInvalid as exc:
        raise ManifestInvalid(exc.problems, str(path)) from None
    return parse_manifest(text, str(path))


def _in_order(items: Sequence[Any], raw: Any) -> list[Any]:
    """Put items fideslang sorted by name back in the order of the file's entries."""
    names = [r.get("name") for r in raw] if isinstance(raw, list) else []
    return sorted(items, key=lambda i: names.index(i.name) if i.name in names else len(names))


def _manifest(data: dict[str, Any]) -> Manifest:
    def entries(section: str) -> list[tuple[Any, Any]]:
        model = SECTIONS[section]
        return [(_validate(model, _named(section, d)), d) for d in data.get(section) or []]

    systems = entries("system")
    declarations = {
        s.fides_key: tuple(
            _validate(PrivacyDeclaration, d) for d in _named("system", raw)["privacy_declarations"]
        )
        for s, raw in systems
    }
    datasets = {}
    for dataset, raw in entries("dataset"):
        collections = []
        for collection in _in_order(dataset.collections, raw.get("collections")):
            raw_collection: dict[str, Any] = next(
                (c for c in raw["collections"] if c.get("name") == collection.name), {}
            )
            collections.append(
                collection.model_copy(
                    update={"fields": _in_order(collection.fields, raw_collection.get("fields"))}
                )
            )
        datasets[dataset.fides_key] = dataset.model_copy(update={"collections": collections})
    return Manifest(
        systems=tuple(s for s, _ in systems),
        declarations=declarations,
        datasets=datasets,
        organizations={o.fides_key: o for o, _ in entries("organization")},
        data_categories=tuple(e for e, _ in entries("data_category")),
        data_uses=tuple(e for e, _ in entries("data_use")),
        data_subjects=tuple(e for e, _ in entries("data_subject")),
    )


def choose_system(manifest: Manifest, key: str | None, filename: str) -> Any:
    """Return the system to import: ``key``, or the one system no other one sends data to."""
    keys = [s.fides_key for s in manifest.systems]
    if key is not None:
        for system in manifest.systems:
            if system.fides_key == key:
                return system
        raise ManifestInvalid(
            [Problem("system", f"no system '{key}' here (its systems: {', '.join(keys)})")],
            filename,
        )
    receiving = {
        flow.fides_key
        for s in manifest.systems
        for flow in s.egress or []
        if flow.type == "system" and flow.fides_key != s.fides_key
    }
    own = [s for s in manifest.systems if s.fides_key not in receiving]
    if len(own) == 1:
        return own[0]
    raise ManifestInvalid(
        [
            Problem(
                "system",
                f"{len(keys)} systems ({', '.join(keys)}), and not one alone that the others "
                "receive from: choose the one to import with --system KEY",
            )
        ],
        filename,
    )

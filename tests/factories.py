"""Build policy files for tests from the shipped example, changed where a test needs it."""

from __future__ import annotations

import copy
import io
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_POLICY = ROOT / "examples" / "contactmonkey-2017" / "policy.yaml"


@cache
def _example() -> dict[str, Any]:
    data: dict[str, Any] = YAML(typ="safe").load(EXAMPLE_POLICY.read_text())
    return data


def example_data() -> dict[str, Any]:
    """Return a deep copy of the example policy as plain data."""
    return copy.deepcopy(_example())


def dump(data: dict[str, Any]) -> str:
    """Serialise policy data as YAML text."""
    out = io.StringIO()
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.dump(data, out)
    return out.getvalue()


def policy_text(change: Callable[[dict[str, Any]], None] | None = None) -> str:
    """Return the example policy's YAML, after ``change`` edits its data."""
    data = example_data()
    if change is not None:
        change(data)
    return dump(data)


def write_policy(tmp_path: Path, change: Callable[[dict[str, Any]], None] | None = None) -> Path:
    """Write a changed copy of the example policy to ``tmp_path`` and return its path."""
    path = tmp_path / "policy.yaml"
    path.write_text(policy_text(change))
    return path


# Fictional people only (example.com, 555-01xx, the 4242 test card).
REGISTRATION = {
    "name": "Ada Example",
    "email": "ada@example.com",
    "phone": "+1 555-0100",
    "address": "1 Example Street, Springfield",
    "birth_date": "1990-04-01",
}
PURCHASE = {
    "name": "Ada Example",
    "email": "ada.billing@example.com",
    "address": "1 Example Street, Springfield",
    "card": "4242 4242 4242 4242",
}

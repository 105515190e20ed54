"""Policy load: schema validation and every check, against a bare YAML parse of the same file."""

from __future__ import annotations

from pathlib import Path

from ruamel.yaml import YAML

from avowal.policy.loader import parse_text
from bench.timing import compare

EXAMPLE = Path(__file__).resolve().parent.parent / "examples" / "contactmonkey-2017" / "policy.yaml"


def run() -> None:
    """Print how much a full policy check costs over parsing the YAML alone."""
    text = EXAMPLE.read_text()
    timings = compare(
        {
            "yaml parse": lambda: YAML(typ="rt").load(text),
            "policy load+check": lambda: parse_text(text),
        }
    )
    base = timings["yaml parse"]
    for name, secs in timings.items():
        print(f"  {name:<20} {secs * 1000:8.2f} ms  {secs / base:5.2f}x yaml parse")

"""Hostile policy files get one clear problem with its position, fast and in little memory.

What these tests hold to is the error and the memory it took (``tracemalloc``); the wall-clock
bound is only a guard against a hang, far above the milliseconds a refusal takes.
"""

from __future__ import annotations

import time
import tracemalloc
from collections.abc import Callable
from pathlib import Path

import pytest
from typer.testing import CliRunner

from avowal.cli import app
from avowal.policy import loader
from avowal.policy.exceptions import PolicyInvalid, Problem
from tests.factories import EXAMPLE_POLICY

runner = CliRunner()
# Guards, not the point: a refusal takes milliseconds and a few megabytes.
MAX_SECONDS = 3.0
MAX_MEMORY = 32 * 1024 * 1024


def billion_laughs(levels: int = 9) -> str:
    lines = ['a0: &a0 ["lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol", "lol"]']
    for i in range(1, levels + 1):
        lines.append(f"a{i}: &a{i} [" + ", ".join([f"*a{i - 1}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def block_nesting(levels: int) -> str:
    return "".join("  " * i + f"k{i}:\n" for i in range(levels)) + "  " * levels + "v\n"


HOSTILE: dict[str, tuple[str, str, int | None]] = {
    # name: (text, expected message fragment, expected line)
    "billion laughs": (billion_laughs(), "expands to more than", 6),
    "quadratic blow-up with merge keys": (
        "base: &b {"
        + ", ".join(f"k{i}: v" for i in range(600))
        + "}\n"
        + "".join(f"m{i}: {{<<: *b}}\n" for i in range(190)),
        "expands to more than",
        None,
    ),
    "too many aliases": (
        "a: &a x\nlist: [" + ", ".join(["*a"] * 300) + "]\n",
        "more than 200 aliases",
        2,
    ),
    "deep flow nesting": ("x: " + "[" * 100_000 + "]" * 100_000 + "\n", "nested deeper", 1),
    "deep flow nesting with entries": ("x: " + "[a, " * 50_000 + "\n", "nested deeper", 1),
    "deep flow nesting behind quoted brackets": (
        "x: " + '["]]", ' * 20_000 + "\n",
        "nested deeper",
        1,
    ),
    "deep block nesting": (block_nesting(200), "nested deeper than 32 levels", 33),
    "a NUL": ("organisation:\n  name: Ada\x00\n", "U+0000 cannot be stored", 2),
    "a noncharacter": ("organisation:\n  name: \ufffe\n", "U+FFFE cannot be stored", 2),
    "a lone surrogate as an escape": (
        'organisation:\n  name: "Ada \\ud800"\n',
        "U+D800 at position 4 cannot be stored",
        2,
    ),
    "a NUL as an escape": ('x:\n  "k\\0": v\n', "U+0000 at position 1 cannot be stored", None),
    "too long": ("# " + "x" * (loader.MAX_POLICY_BYTES + 1) + "\n", "at most", None),
}


def refused(action: Callable[[], object]) -> tuple[list[Problem], float, int]:
    """Run ``action``, which must raise PolicyInvalid; return its problems, time and peak bytes."""
    tracemalloc.start()
    started = time.monotonic()
    try:
        with pytest.raises(PolicyInvalid) as caught:
            action()
        return caught.value.problems, time.monotonic() - started, tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("name", list(HOSTILE))
def test_a_hostile_policy_gets_one_located_problem(name: str) -> None:
    text, fragment, line = HOSTILE[name]
    problems, seconds, peak = refused(lambda: loader.parse_text(text, "hostile.yaml"))
    assert len(problems) == 1, problems
    assert fragment in problems[0].message
    if line is not None:
        assert problems[0].line == line
    assert seconds < MAX_SECONDS
    # The text itself is up to a megabyte; what is built from it stays a small multiple.
    assert peak < MAX_MEMORY + 4 * len(text)


def test_the_alias_limit_leaves_ordinary_anchors_alone() -> None:
    text = EXAMPLE_POLICY.read_text(encoding="utf-8")
    # A reused anchor, as a person would write one, is still fine.
    text += "\nx-reused: &reuse {a: 1}\nx-again: *reuse\n"
    with pytest.raises(PolicyInvalid) as caught:
        loader.parse_text(text, "policy.yaml")
    # Refused by the schema (unknown keys), not by the YAML limits.
    assert {p.message for p in caught.value.problems} == {
        "unknown key (not part of the policy format)"
    }


@pytest.mark.parametrize(
    ("raw", "line", "column"),
    [
        (b"organisation:\n  name: Ad\xe9\n", 2, 11),  # Latin-1, not UTF-8
        (b"x: \xed\xa0\x80\n", 1, 4),  # a surrogate encoded as if it were a character
        (b"x: y\n\xff\n", 2, 1),
    ],
)
def test_a_file_that_is_not_utf8_is_refused_with_its_position(
    tmp_path: Path, raw: bytes, line: int, column: int
) -> None:
    path = tmp_path / "policy.yaml"
    path.write_bytes(raw)
    problems, _, _ = refused(lambda: loader.load_file(path))
    assert len(problems) == 1
    assert "not UTF-8 text" in problems[0].message
    assert (problems[0].line, problems[0].column) == (line, column)


def test_a_huge_file_is_not_read_whole(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    with path.open("wb") as file:
        file.truncate(64 * 1024 * 1024)  # sparse: 64 MB of NUL without writing them
    problems, _, peak = refused(lambda: loader.load_file(path))
    assert "at most" in problems[0].message
    assert peak < 4 * loader.MAX_POLICY_BYTES


@pytest.mark.parametrize("name", ["billion laughs", "deep flow nesting", "a NUL"])
def test_policy_check_reports_a_hostile_file_without_traceback(tmp_path: Path, name: str) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(HOSTILE[name][0], encoding="utf-8", errors="surrogatepass")
    result = runner.invoke(app, ["policy", "check", str(path)])
    assert result.exit_code == 1
    assert result.exception is None or isinstance(result.exception, SystemExit)
    assert "Traceback" not in result.output
    first = result.stderr.splitlines()[0]
    assert first.startswith(f"{path}:{HOSTILE[name][2]}:")
    assert HOSTILE[name][1] in first
    assert result.stderr.rstrip().endswith("1 problem")

"""Mutation testing of avowal's rule modules (`make mutate`), with mutmut.

mutmut changes the code one small edit at a time (a `<` for a `<=`, `and` for `or`, a string
for another) and runs the tests that cover the changed function; a mutant the tests do not
notice "survives" and shows a rule the suite does not protect. This script runs mutmut over the
rule modules, prints killed and surviving mutants per module, and fails when a mutant survives
in a protected rule: the purpose hierarchy, notice ids, CSRF and Origin checks, erasure and
analytics scrubbing. Those rules must have no untested behaviour at all.

    python scripts/mutate.py            # every rule module (long: tens of minutes on 2 cores)
    python scripts/mutate.py --protected  # only the protected rules (the gate)
    python scripts/mutate.py --report   # print the table of the last run without running

Mutants run on SQLite only (the PostgreSQL and browser tests are deselected): a rule's logic is
the same on both databases, and the suite's own run covers the second one.
"""

# ruff: noqa: T201 (a command-line report)
from __future__ import annotations

import argparse
import fnmatch
import re
import shutil
import subprocess
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
MUTMUT = [sys.executable, "-m", "mutmut"]

# The rule modules (also listed as `only_mutate` in pyproject.toml's [tool.mutmut]).
MODULES = (
    "avowal.policy.taxonomy",
    "avowal.policy.checks",
    "avowal.callers.service",
    "avowal.vault.notices",
    "avowal.vault.access",
    "avowal.vault.erasure",
    "avowal.vault.terms",
    "avowal.vault.collection",
    "avowal.audit.service",
    "avowal.console.deps",
    "avowal.analytics.scrub",
)

# Protected rules: mutant-name patterns in which no mutant may survive.
PROTECTED = {
    "purpose": (
        "avowal.policy.taxonomy.x_is_within__*",
        "avowal.policy.taxonomy.xǁTaxonomyǁis_within__*",
        "avowal.callers.service.xǁCallerǁgrants__*",
    ),
    "notice": ("avowal.vault.notices.*",),
    "csrf": (
        "avowal.console.deps.x_check_csrf__*",
        "avowal.console.deps.x_form_csrf_token__*",
        "avowal.console.deps.x_check_origin__*",
        "avowal.console.deps.x_origin_of__*",
        "avowal.console.deps.x_allowed_origins__*",
    ),
    "erasure": ("avowal.vault.erasure.x_erase__*",),
    "scrubbing": ("avowal.analytics.scrub.*",),
}

_LINE = re.compile(r"^\s*(?P<name>[^\s:]+__mutmut_\d+): (?P<status>.+)$")


def _protected_patterns() -> list[str]:
    return [p for patterns in PROTECTED.values() for p in patterns]


def _module_of(name: str) -> str:
    prefix = name.split(".x_")[0].split(".xǁ")[0]
    return prefix


def run(patterns: list[str]) -> int:
    """Run mutmut over the given mutant-name patterns (all when empty); return its exit code."""
    return subprocess.call([*MUTMUT, "run", "--max-children", "2", *patterns], cwd=ROOT)


def results() -> dict[str, str]:
    """Return mutant name -> status of the last run."""
    out = subprocess.run(
        [*MUTMUT, "results", "--all", "true"], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    found: dict[str, str] = {}
    for line in out.splitlines():
        m = _LINE.match(line)
        if m:
            found[m["name"]] = m["status"].strip()
    return found


def report(found: dict[str, str], only_protected: bool) -> int:
    """Print the table per module and per protected rule; return 1 if a protected mutant lives."""
    if only_protected:
        found = {
            n: s
            for n, s in found.items()
            if any(fnmatch.fnmatchcase(n, p) for p in _protected_patterns())
        }
    per_module: dict[str, Counter[str]] = {}
    for name, status in found.items():
        per_module.setdefault(_module_of(name), Counter())[status] += 1
    print(
        f"{'module':32} {'mutants':>8} {'killed':>7} {'survived':>9} {'no tests':>9} {'other':>6}"
    )
    for module in sorted(per_module):
        c = per_module[module]
        other = sum(c.values()) - c["killed"] - c["survived"] - c["no tests"]
        print(
            f"{module:32} {sum(c.values()):8} {c['killed']:7} {c['survived']:9} "
            f"{c['no tests']:9} {other:6}"
        )
    failed = 0
    print()
    for rule, patterns in PROTECTED.items():
        mine = {n: s for n, s in found.items() if any(fnmatch.fnmatchcase(n, p) for p in patterns)}
        alive = sorted(n for n, s in mine.items() if s != "killed")
        print(f"protected rule {rule:10} {len(mine):4} mutants, {len(alive)} not killed")
        for name in alive:
            print(f"    {name}: {mine[name]}   (mutmut show {name})")
        failed |= bool(alive) or not mine
    return 1 if failed else 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--protected", action="store_true", help="only the protected rules")
    parser.add_argument("--report", action="store_true", help="report the last run only")
    args = parser.parse_args()
    if not args.report:
        # Start from fresh mutants: mutmut keeps earlier results for unchanged names.
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
        code = run(_protected_patterns() if args.protected else [])
        if code not in (0,):
            print(f"mutmut exited {code}", file=sys.stderr)
    return report(results(), args.protected)


if __name__ == "__main__":
    sys.exit(main())

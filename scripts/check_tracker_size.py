"""Fail the build when a script that runs in visitors' browsers grows past its budget.

The tracker (``/a.js``, also ``/js/script.js``) has 1 KiB gzipped, and each of Plausible's
script extensions (``/js/script.outbound-links.js``...) may add 500 bytes gzipped to it; every
combination of extensions is built and checked against the sum of its extensions' budgets. The
consent banner has 6 KiB gzipped: ``/c.js`` as
served for the example policy, its code, styles and configuration (both languages' texts, the
declared cookies) included.
"""

from __future__ import annotations

import itertools
import sys

from avowal.analytics import tracker
from avowal.consent import banner
from avowal.policy.loader import load_file
from avowal.settings import EXAMPLE_POLICY, Settings

BANNER_BUDGET = 6 * 1024  # bytes, gzipped, banner.js and banner.css together


def banner_source() -> bytes:
    """Return the banner's script and styles as served (minified), one after the other."""
    return f"{banner.BANNER_JS}\n{banner.BANNER_CSS}".encode()


def served_banner() -> bytes:
    """Return /c.js as served for the example policy (no change announced)."""
    settings = Settings(env="test")
    return banner.script(banner.config(load_file(EXAMPLE_POLICY), settings, None)).body


def check(where: str, size: int, budget: int) -> bool:
    """Print one figure; return whether it is within its budget."""
    if size > budget:
        sys.stderr.write(f"{where}: {size} bytes gzipped, over the {budget}-byte budget\n")
        return False
    sys.stdout.write(f"{where}: {size} bytes gzipped (budget {budget})\n")
    return True


def tracker_builds() -> list[bool]:
    """Print the default tracker's size, each extension's, and the largest combination's."""
    default = tracker.gzipped_size(tracker.source())
    results = [check("/a.js = /js/script.js (tracker/a.js)", default, tracker.SIZE_BUDGET)]
    for name in tracker.BUILT:
        size = tracker.gzipped_size(tracker.build(frozenset({name})).body)
        where = f"/js/script.{name}.js ({size - default:+d} on the default)"
        results.append(check(where, size, default + tracker.EXTENSION_BUDGET))
    combinations = [
        frozenset(c)
        for n in range(2, len(tracker.BUILT) + 1)
        for c in itertools.combinations(tracker.BUILT, n)
    ]
    over = []
    for features in combinations:
        size = tracker.gzipped_size(tracker.build(features).body)
        if size > default + tracker.EXTENSION_BUDGET * len(features):
            over.append(check(f"/js/script.{'.'.join(sorted(features))}.js", size, 0))
    largest = tracker.gzipped_size(tracker.build(frozenset(tracker.BUILT)).body)
    results.append(
        check(
            f"/js/script.{'.'.join(sorted(tracker.BUILT))}.js "
            f"(all {len(tracker.BUILT)} extensions; {len(combinations)} combinations checked)",
            largest,
            default + tracker.EXTENSION_BUDGET * len(tracker.BUILT),
        )
    )
    return results + over


def main() -> int:
    """Print each script's gzipped size; return 1 if any is above its budget."""
    results = [
        *tracker_builds(),
        check(
            "src/avowal/consent/static/banner.js + banner.css (minified)",
            tracker.gzipped_size(banner_source()),
            BANNER_BUDGET,
        ),
        check(
            "/c.js for the example policy (code, styles and configuration)",
            tracker.gzipped_size(served_banner()),
            BANNER_BUDGET,
        ),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

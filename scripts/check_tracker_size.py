"""Fail the build when a script that runs in visitors' browsers grows past its budget.

The tracker (``a.js``) has 1 KiB gzipped; the consent banner (``banner.js`` and ``banner.css``,
which ``/c.js`` serves together) has 6 KiB gzipped for both.
"""

from __future__ import annotations

import sys
from importlib.resources import files

from avowal.analytics import tracker

BANNER_BUDGET = 6 * 1024  # bytes, gzipped, banner.js and banner.css together
BANNER = ("banner.js", "banner.css")


def banner_source() -> bytes:
    """Return the banner's script and styles as shipped, one after the other."""
    static = files("avowal.consent").joinpath("static")
    return b"\n".join(static.joinpath(name).read_bytes() for name in BANNER)


def check(where: str, size: int, budget: int) -> bool:
    """Print one figure; return whether it is within its budget."""
    if size > budget:
        sys.stderr.write(f"{where}: {size} bytes gzipped, over the {budget}-byte budget\n")
        return False
    sys.stdout.write(f"{where}: {size} bytes gzipped (budget {budget})\n")
    return True


def main() -> int:
    """Print each script's gzipped size; return 1 if any is above its budget."""
    results = [
        check(
            "src/avowal/analytics/tracker/a.js",
            tracker.gzipped_size(tracker.source()),
            tracker.SIZE_BUDGET,
        ),
        check(
            "src/avowal/consent/static/banner.js + banner.css",
            tracker.gzipped_size(banner_source()),
            BANNER_BUDGET,
        ),
    ]
    return 0 if all(results) else 1


if __name__ == "__main__":
    sys.exit(main())

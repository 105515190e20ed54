"""Fail the build when the tracker script grows past its budget (1 KiB gzipped)."""

from __future__ import annotations

import sys
from pathlib import Path

from avowal.analytics import tracker


def main() -> int:
    """Print the tracker's gzipped size; return 1 above the budget."""
    size = tracker.gzipped_size(tracker.source())
    where = Path("src/avowal/analytics/tracker/a.js")
    if size > tracker.SIZE_BUDGET:
        sys.stderr.write(
            f"{where}: {size} bytes gzipped, over the {tracker.SIZE_BUDGET}-byte budget\n"
        )
        return 1
    sys.stdout.write(f"{where}: {size} bytes gzipped (budget {tracker.SIZE_BUDGET})\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())

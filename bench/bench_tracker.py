"""Tracker size: the script served at /a.js, gzipped at level 9, against its 1 KiB budget.

The bytes are the ones the server sends (``tracker.SCRIPT``, read from
``src/avowal/analytics/tracker/a.js``); ``scripts/check_tracker_size.py`` fails ``make lint``
over the same budget.
"""

from __future__ import annotations

import gzip

from avowal.analytics import tracker


def run() -> None:
    """Print the tracker's size, plain and gzipped, and the gzipped size against the budget."""
    body = tracker.SCRIPT.body
    gzipped = len(gzip.compress(body, compresslevel=9))
    ratio = gzipped / tracker.SIZE_BUDGET
    verdict = "PASS" if gzipped <= tracker.SIZE_BUDGET else "MISS"
    print(f"  /a.js {len(body):,} bytes, gzip -9 {gzipped:,} bytes")
    budget = f"{tracker.SIZE_BUDGET:,}-byte budget"
    print(f"    gzipped / {budget}  {ratio:5.2f}x  target <= 1.0x  {verdict}")
    if len(tracker.SCRIPT.gzipped) != gzipped:
        print(f"    (sent with Content-Encoding: gzip: {len(tracker.SCRIPT.gzipped):,} bytes)")

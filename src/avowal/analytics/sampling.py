"""When and how a large site's filtered figures are estimated from a sample of its visitors.

A filtered view can't be read from rollups: its figures come from the visits themselves, and
on ClickHouse at 10M page views a month, reading every visit of 30 days takes about half a
second on two cores, whatever the indexes. Plausible's answer, and ours: above a size, read a
fixed share of the visitors and scale the figures up. The time then stays the same as the site
grows.

- **Who is in the sample.** A visitor is in the sample when its daily hash is below a bound
  (:attr:`Sample.bound`). The hash is an HMAC under the day's secret salt, so it is uniform and
  unrelated to anything about the visitor. Every visit of a visitor in the sample is read whole,
  so bounce rates, durations and entry and exit pages are each visit's own, never cut in half.
  Every stored table sorts by ``(site, day, visitor, ...)``, so ClickHouse reads only the sampled
  share of each day.
- **Scaling.** Each figure read is divided by the fraction and rounded (:meth:`Sample.scale`).
  Counts and sums are then estimates of the whole; rates and averages are the sample's own.
- **When.** Only filtered figures of a site on ClickHouse are sampled, and only when the range's
  visits (from the rollups) exceed the limit set by ``AVOWAL_ANALYTICS_SAMPLE_VISITS``
  (:func:`choose`). Unfiltered figures come from the rollups and are always exact. Asking for
  ``exact`` figures turns sampling off for that request, and the Stats API never samples. Every
  answer says whether it was sampled, and from what share.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# The visitor hash is a signed 64-bit integer (avowal.analytics.salts.visitor_hash).
_LOWEST = -(2**63)
_SPAN = 2**64
# No sample is smaller than this share: below it, small values would be mostly noise.
MIN_FRACTION = 0.01


@dataclass(frozen=True)
class Sample:
    """The share of visitors whose visits are read: those whose daily hash is below ``bound``."""

    fraction: float

    def __post_init__(self) -> None:
        if not MIN_FRACTION <= self.fraction < 1:
            raise ValueError(f"a sample's fraction lies in [{MIN_FRACTION}, 1): {self.fraction}")

    @property
    def bound(self) -> int:
        """The visitor hashes in the sample are those below this signed 64-bit integer."""
        return _LOWEST + math.floor(self.fraction * _SPAN)

    def scale(self, n: int) -> int:
        """Return the estimate of a whole from its sampled count or sum ``n``."""
        return round(n / self.fraction)

    @property
    def percent(self) -> float:
        """The share of visitors read, in percent."""
        return round(self.fraction * 100, 2)


def choose(visits: int, limit: int) -> Sample | None:
    """Return the sample that reads about ``limit`` of ``visits`` visits, or None to read them
    all: when ``limit`` is 0 (never sample) or the visits do not exceed it.

    The fraction is rounded down to two digits, so answers over similar ranges share it.
    """
    if limit <= 0 or visits <= limit:
        return None
    fraction = max(MIN_FRACTION, math.floor(100 * limit / visits) / 100)
    return Sample(fraction) if fraction < 1 else None

"""Interleaved timing: the contenders take turns so machine noise hits them alike."""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable


def compare(
    contenders: dict[str, Callable[[], object]], rounds: int = 7, repeat: int = 20
) -> dict[str, float]:
    """Return the median seconds per call of each contender, measured in alternation."""
    samples: dict[str, list[float]] = {name: [] for name in contenders}
    for _ in range(rounds):
        for name, fn in contenders.items():
            start = time.perf_counter()
            for _ in range(repeat):
                fn()
            samples[name].append((time.perf_counter() - start) / repeat)
    return {name: statistics.median(values) for name, values in samples.items()}

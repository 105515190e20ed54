"""The dashboard's time-series chart, drawn on the server as SVG: no script, no inline style.

The template turns this geometry into ``<svg>`` elements whose colours come from classes in
``analytics.css`` (the Content-Security-Policy allows no ``style`` attribute); each point has a
``<title>``, which browsers show as a tooltip and screen readers read.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

WIDTH = 840
HEIGHT = 260
LEFT, RIGHT, TOP, BOTTOM = 56, 20, 16, 34
METRICS = {"visitors": "visitors", "visits": "visits", "pageviews": "page views"}


@dataclass(frozen=True)
class Point:
    """One plotted point and its tooltip."""

    x: float
    y: float
    label: str


@dataclass(frozen=True)
class Chart:
    """Everything the template draws."""

    width: int
    height: int
    metric: str
    points: list[Point]
    line: str
    area: str
    previous: list[Point]
    previous_line: str
    y_ticks: list[tuple[float, str]]
    x_labels: list[tuple[float, str]]
    baseline: float
    summary: str


def _nice_top(largest: int) -> tuple[int, int]:
    """Return (top of the axis, step) for four even steps covering ``largest``."""
    raw = max(largest, 1) / 4
    magnitude = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    for factor in (1, 2, 2.5, 5, 10):
        step = factor * magnitude
        if step >= raw and step == int(step):
            return int(step) * 4, int(step)
    return int(10 * magnitude) * 4, int(10 * magnitude)  # pragma: no cover


def _when(t: str, hourly: bool) -> dt.datetime:
    if hourly:
        return dt.datetime.strptime(t, "%Y-%m-%dT%H:00:00Z")
    return dt.datetime.strptime(t, "%Y-%m-%d")


def _count(value: int) -> str:
    return f"{value:,}"


def build(
    points: Sequence[dict[str, Any]],
    previous: Sequence[dict[str, Any]] | None,
    *,
    interval: str,
    metric: str = "visitors",
) -> Chart:
    """Return the chart of ``metric`` over ``points`` (and the previous period's, if given)."""
    hourly = interval == "hour"
    noun = METRICS[metric]
    values = [int(p[metric] or 0) for p in points]
    before = [int(p[metric] or 0) for p in previous or []]
    top, step = _nice_top(max([*values, *before, 0]))
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    baseline = TOP + plot_h

    def x(i: int) -> float:
        return LEFT + (plot_w / 2 if len(points) == 1 else i * plot_w / (len(points) - 1))

    def y(v: int) -> float:
        return round(baseline - v / top * plot_h, 1)

    def label(t: str, v: int, suffix: str = "") -> str:
        when = _when(t, hourly)
        text = when.strftime("%a %d %b %Y %H:00 UTC" if hourly else "%a %d %b %Y")
        return f"{text}: {_count(v)} {noun}{suffix}"

    plotted = [
        Point(round(x(i), 1), y(v), label(p["t"], v))
        for i, (p, v) in enumerate(zip(points, values, strict=True))
    ]
    earlier = [
        Point(round(x(i), 1), y(v), label(p["t"], v, " (previous period)"))
        for i, (p, v) in enumerate(zip(previous or [], before, strict=True))
        if i < len(points)
    ]
    line = " ".join(f"{p.x},{p.y}" for p in plotted)
    area = f"{plotted[0].x},{baseline} {line} {plotted[-1].x},{baseline}" if plotted else ""
    every = max(1, math.ceil(len(points) / 7))
    fmt = "%H:00" if hourly and len(points) <= 24 else "%d %b %H:00" if hourly else "%d %b"
    x_labels = [
        (round(x(i), 1), _when(p["t"], hourly).strftime(fmt))
        for i, p in enumerate(points)
        if i % every == 0
    ]
    y_ticks = [(y(v), _count(v)) for v in range(0, top + 1, step)]
    total = sum(values)
    summary = (
        f"{noun.capitalize()} per {'hour' if hourly else 'day'}: {_count(total)} in all, "
        f"at most {_count(max(values, default=0))} in one {'hour' if hourly else 'day'}"
    )
    return Chart(
        width=WIDTH,
        height=HEIGHT,
        metric=metric,
        points=plotted,
        line=line,
        area=area,
        previous=earlier,
        previous_line=" ".join(f"{p.x},{p.y}" for p in earlier),
        y_ticks=y_ticks,
        x_labels=x_labels,
        baseline=baseline,
        summary=summary,
    )

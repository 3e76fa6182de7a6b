"""Charts as server-rendered SVG: no JavaScript, no CDN, nothing fetched. Colours come from CSS
classes in ``static/app.css`` so the charts follow the page's theme."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from html import escape

from markupsafe import Markup


@dataclass(frozen=True, slots=True)
class Line:
    name: str
    values: Sequence[float]
    css: str


@dataclass(frozen=True, slots=True)
class Marker:
    """A moment on the time axis: a change (deploy, config, flag, alert)."""

    at: datetime
    label: str
    css: str


@dataclass(frozen=True, slots=True)
class Band:
    """A stretch of time, e.g. an incident from trigger to resolution."""

    start: datetime
    end: datetime
    label: str
    css: str


def sparkline(values: Sequence[float], width: int = 120, height: int = 28, label: str = "trend") -> Markup:
    """A tiny area chart of ``values``; flat when there is nothing."""
    if not values:
        values = [0]
    top = max(values) or 1
    step = width / max(len(values) - 1, 1)
    points = [(index * step, height - 2 - (value / top) * (height - 4)) for index, value in enumerate(values)]
    line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
    area = f"M0,{height} L" + " L".join(f"{x:.1f},{y:.1f}" for x, y in points) + f" L{width},{height} Z"
    last_x, last_y = points[-1]
    title = escape(f"{label}: " + ", ".join(str(int(value)) for value in values))
    return Markup(
        f'<svg class="spark" viewBox="0 0 {width} {height}" width="{width}" height="{height}" role="img" '
        f'aria-label="{title}"><title>{title}</title><path class="spark-area" d="{area}"/>'
        f'<polyline class="spark-line" points="{line}"/><circle class="spark-dot" cx="{last_x:.1f}" '
        f'cy="{last_y:.1f}" r="2"/></svg>'
    )


def _nice_ceiling(value: float) -> float:
    if value <= 0:
        return 1.0
    exponent = math.floor(math.log10(value))
    fraction = value / 10**exponent
    for nice in (1, 2, 2.5, 5, 10):
        if fraction <= nice:
            return nice * 10**exponent
    return 10 ** (exponent + 1)


def _time_label(moment: datetime, span: timedelta) -> str:
    if span <= timedelta(days=1):
        return moment.strftime("%H:%M")
    if span <= timedelta(days=7):
        return moment.strftime("%a %H:%M")
    return moment.strftime("%d %b")


def time_chart(
    starts: Sequence[datetime],
    step: timedelta,
    *,
    lines: Sequence[Line] = (),
    stacked: Sequence[Line] = (),
    markers: Sequence[Marker] = (),
    bands: Sequence[Band] = (),
    title: str = "",
    width: int = 1000,
    height: int = 240,
    integer: bool = True,
) -> Markup:
    """Bars (stacked, bottom first) and lines over time buckets, with change markers and incident bands."""
    left, right, top, bottom = 44, 12, 26, 28
    plot_w, plot_h = width - left - right, height - top - bottom
    count = max(len(starts), 1)
    origin = starts[0] if starts else datetime.now()
    end = origin + step * count
    span = end - origin

    def x_at(moment: datetime) -> float:
        return left + plot_w * ((moment - origin) / span if span else 0.0)

    stack_totals = [sum(line.values[index] for line in stacked) for index in range(len(starts))]
    peak = max([*stack_totals, *(value for line in lines for value in line.values), 0])
    y_max = _nice_ceiling(peak)
    if integer:
        # counts: four whole-number gridlines at least, never 0.25 of a post
        y_max = max(4.0, math.ceil(y_max / 4) * 4)

    def y_at(value: float) -> float:
        return top + plot_h - plot_h * (value / y_max)

    parts = [
        f'<svg class="chart" viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">'
        f"<title>{escape(title)}</title>"
    ]
    for tick in range(5):
        value = y_max * tick / 4
        y = y_at(value)
        parts.append(
            f'<line class="grid" x1="{left}" x2="{width - right}" y1="{y:.1f}" y2="{y:.1f}"/>'
            f'<text class="axis" x="{left - 6}" y="{y + 4:.1f}" text-anchor="end">{value:.3g}</text>'
        )
    label_every = max(1, math.ceil(count / 7))
    for index in range(0, count, label_every):
        x = x_at(origin + step * index)
        parts.append(
            f'<text class="axis" x="{x:.1f}" y="{height - 8}" text-anchor="middle">'
            f"{_time_label(origin + step * index, span)}</text>"
        )
    for band in bands:
        x1, x2 = max(x_at(band.start), left), min(x_at(band.end), width - right)
        if x2 > x1:
            parts.append(
                f'<rect class="band {band.css}" x="{x1:.1f}" y="{top}" width="{x2 - x1:.1f}" '
                f'height="{plot_h}"><title>{escape(band.label)}</title></rect>'
            )
    bar_w = plot_w / count
    for index in range(len(starts)):
        base = 0.0
        for line in stacked:
            value = line.values[index]
            if value:
                y_top = y_at(base + value)
                parts.append(
                    f'<rect class="bar {line.css}" x="{left + index * bar_w + 0.5:.1f}" y="{y_top:.1f}" '
                    f'width="{max(bar_w - 1, 0.5):.1f}" height="{y_at(base) - y_top:.1f}">'
                    f"<title>{escape(line.name)} {starts[index]:%H:%M}: {value:g}</title></rect>"
                )
            base += value
    for line in lines:
        points = " ".join(
            f"{left + (index + 0.5) * bar_w:.1f},{y_at(value):.1f}" for index, value in enumerate(line.values)
        )
        parts.append(
            f'<polyline class="series {line.css}" points="{points}"><title>{escape(line.name)}</title>'
            "</polyline>"
        )
    for marker in markers:
        x = x_at(marker.at)
        if left <= x <= width - right:
            parts.append(
                f'<g class="marker {marker.css}"><line x1="{x:.1f}" x2="{x:.1f}" y1="{top - 4}" '
                f'y2="{top + plot_h}"/><circle cx="{x:.1f}" cy="{top - 6}" r="4"/>'
                f"<title>{escape(marker.label)}</title></g>"
            )
    legend_x = left
    for line in [*stacked, *lines]:
        parts.append(
            f'<rect class="legend {line.css}" x="{legend_x}" y="6" width="10" height="10"/>'
            f'<text class="axis" x="{legend_x + 14}" y="15">{escape(line.name)}</text>'
        )
        legend_x += 24 + 7 * len(line.name)
    parts.append(
        f'<line class="axis-line" x1="{left}" x2="{width - right}" y1="{top + plot_h}" '
        f'y2="{top + plot_h}"/></svg>'
    )
    return Markup("".join(parts))

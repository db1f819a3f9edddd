"""Trend charts drawn on the server as SVG: a title and a description a screen reader reads,
markers of different shapes so no line is told by its colour alone, a gap where a month has
no figure or a suppressed one. The same numbers stand in a table beside each chart."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

WIDTH, HEIGHT = 640, 300
LEFT, RIGHT, TOP, BOTTOM = 48, 170, 16, 36
# Dark enough for 3:1 against white (WCAG 1.4.11 for graphics), distinguishable in greyscale
# by their marker shapes.
COLOURS = ("#1f4e9c", "#a6361c", "#2e6b30", "#6b3fa0", "#7a5a00", "#0f6b70")
MARKERS = ("circle", "square", "diamond", "triangle", "cross", "circle")


@dataclass(frozen=True)
class Series:
    name: str
    values: tuple[float | None, ...]


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    description: str
    x_labels: tuple[str, ...]
    series: tuple[Series, ...]
    y_max: float = 100.0
    unit: str = "%"


def _marker(kind: str, x: float, y: float, colour: str) -> str:
    if kind == "square":
        return f'<rect x="{x - 4:.1f}" y="{y - 4:.1f}" width="8" height="8" fill="{colour}"/>'
    if kind == "diamond":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y:.1f} {x:.1f},{y + 5:.1f} '
                f'{x - 5:.1f},{y:.1f}" fill="{colour}"/>')
    if kind == "triangle":
        return (f'<polygon points="{x:.1f},{y - 5:.1f} {x + 5:.1f},{y + 4:.1f} '
                f'{x - 5:.1f},{y + 4:.1f}" fill="{colour}"/>')
    if kind == "cross":
        return (f'<path d="M{x - 4:.1f},{y - 4:.1f}L{x + 4:.1f},{y + 4:.1f}M{x - 4:.1f},'
                f'{y + 4:.1f}L{x + 4:.1f},{y - 4:.1f}" stroke="{colour}" stroke-width="2"/>')
    return f'<circle cx="{x:.1f}" cy="{y:.1f}" r="4" fill="{colour}"/>'


def render_svg(chart: Chart) -> str:
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    n = max(len(chart.x_labels), 1)

    def x_at(i: int) -> float:
        return LEFT + (plot_w * (i + 0.5) / n)

    def y_at(v: float) -> float:
        return TOP + plot_h * (1 - min(max(v, 0.0), chart.y_max) / chart.y_max)

    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-labelledby="{chart.id}-title {chart.id}-desc">',
        f'<title id="{chart.id}-title">{escape(chart.title)}</title>',
        f'<desc id="{chart.id}-desc">{escape(chart.description)}</desc>',
    ]
    for step in range(5):
        tick = chart.y_max * step / 4
        y = y_at(tick)
        parts.append(f'<line x1="{LEFT}" y1="{y:.1f}" x2="{LEFT + plot_w}" y2="{y:.1f}" '
                     f'stroke="#767676" stroke-width="0.5"/>')
        parts.append(f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" font-size="12" '
                     f'fill="#222">{tick:.0f}{escape(chart.unit)}</text>')
    for i, label in enumerate(chart.x_labels):
        parts.append(f'<text x="{x_at(i):.1f}" y="{HEIGHT - BOTTOM + 18}" text-anchor="middle" '
                     f'font-size="12" fill="#222">{escape(label)}</text>')
    for k, series in enumerate(chart.series):
        colour, marker = COLOURS[k % len(COLOURS)], MARKERS[k % len(MARKERS)]
        segment: list[str] = []
        paths: list[str] = []
        for i, value in enumerate(series.values):
            if value is None:
                if len(segment) > 1:
                    paths.append(" ".join(segment))
                segment = []
                continue
            segment.append(f"{'M' if not segment else 'L'}{x_at(i):.1f},{y_at(value):.1f}")
            parts.append(_marker(marker, x_at(i), y_at(value), colour))
        if len(segment) > 1:
            paths.append(" ".join(segment))
        for d in paths:
            parts.append(f'<path d="{d}" fill="none" stroke="{colour}" stroke-width="2"/>')
        legend_y = TOP + 14 + 20 * k
        parts.append(_marker(marker, WIDTH - RIGHT + 16, legend_y - 4, colour))
        parts.append(f'<text x="{WIDTH - RIGHT + 26}" y="{legend_y}" font-size="12" '
                     f'fill="#222">{escape(series.name[:24])}</text>')
    parts.append("</svg>")
    return "".join(parts)

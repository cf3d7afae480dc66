"""Small SVG charts drawn on the server: no JavaScript, nothing fetched from elsewhere."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from pinyard.ui._html import e

WIDTH, HEIGHT, PAD = 640, 300, 48
COLORS = ("#2556a8", "#c0362c", "#1a7f37", "#8a4fbf", "#b86e00", "#00838f", "#5b6672")


class _Axis:
    """Maps data values to pixels, on a log scale when the values span decades."""

    def __init__(
        self, values: Sequence[float], start: float, end: float, allow_log: bool = True
    ) -> None:
        finite = [v for v in values if math.isfinite(v)]
        low, high = (min(finite), max(finite)) if finite else (0.0, 1.0)
        self.log = allow_log and low > 0 and high / low >= 100
        if self.log:
            low, high = math.log10(low), math.log10(high)
        if high == low:
            low, high = low - 0.5, high + 0.5
        self.low, self.high, self.start, self.end = low, high, start, end

    def __call__(self, value: float) -> float:
        v = math.log10(value) if self.log else value
        return self.start + (v - self.low) / (self.high - self.low) * (self.end - self.start)

    def ticks(self) -> list[tuple[float, str]]:
        span, pixels = self.high - self.low, self.end - self.start
        return [
            (self.start + i / 4 * pixels, _tick(self.low + i / 4 * span, self.log))
            for i in range(5)
        ]


def _tick(value: float, log: bool) -> str:
    return f"{10**value:.3g}" if log else f"{value:.4g}"


def _frame(x: _Axis, y: _Axis, x_label: str, y_label: str) -> list[str]:
    parts = [
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - 10}" y2="{HEIGHT - PAD}" '
        'stroke="#999"/>',
        f'<line x1="{PAD}" y1="10" x2="{PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>',
        f'<text x="{WIDTH / 2}" y="{HEIGHT - 8}" text-anchor="middle">{e(x_label)}'
        f"{' (log)' if x.log else ''}</text>",
        f'<text x="12" y="{HEIGHT / 2}" transform="rotate(-90 12 {HEIGHT / 2})" '
        f'text-anchor="middle">{e(y_label)}</text>',
    ]
    for px, label in x.ticks():
        parts.append(
            f'<text x="{px:.1f}" y="{HEIGHT - PAD + 14}" text-anchor="middle">{label}</text>'
        )
    for py, label in y.ticks():
        parts.append(f'<text x="{PAD - 4}" y="{py + 4:.1f}" text-anchor="end">{label}</text>')
    return parts


def scatter(
    points: Sequence[tuple[float, float, str]], x_label: str, y_label: str, best: str | None
) -> str:
    """``(x, y, run_id)`` points; the ``best`` run drawn larger and labelled."""
    usable = [(x, y, r) for x, y, r in points if math.isfinite(x) and math.isfinite(y)]
    if not usable:
        return '<p class="muted">No run has both values to plot.</p>'
    xs = _Axis([p[0] for p in usable], PAD, WIDTH - 20)
    ys = _Axis([p[1] for p in usable], HEIGHT - PAD, 16)
    parts = _frame(xs, ys, x_label, y_label)
    for x, y, run in usable:
        if run == best:
            continue
        parts.append(
            f'<circle cx="{xs(x):.1f}" cy="{ys(y):.1f}" r="3.5" fill="{COLORS[0]}" '
            f'fill-opacity=".7"><title>{e(run)}: {x:.4g}, {y:.4g}</title></circle>'
        )
    for x, y, run in usable:
        if run == best:
            parts.append(
                f'<circle cx="{xs(x):.1f}" cy="{ys(y):.1f}" r="6" fill="{COLORS[1]}">'
                f"<title>best: {e(run)}</title></circle>"
                f'<text x="{xs(x) + 8:.1f}" y="{ys(y) - 6:.1f}">best</text>'
            )
    return _svg(parts, f"{y_label} against {x_label}")


def lines(series: Mapping[str, Sequence[tuple[float, float]]], x_label: str, y_label: str) -> str:
    """One line per run of ``(step, value)`` points."""
    points = [p for values in series.values() for p in values]
    if not points:
        return '<p class="muted">No stepped values logged for this metric.</p>'
    xs = _Axis([p[0] for p in points], PAD, WIDTH - 20, allow_log=False)
    ys = _Axis([p[1] for p in points], HEIGHT - PAD, 16, allow_log=False)
    parts = _frame(xs, ys, x_label, y_label)
    for index, (run, values) in enumerate(series.items()):
        color = COLORS[index % len(COLORS)]
        path = " ".join(f"{xs(s):.1f},{ys(v):.1f}" for s, v in values if math.isfinite(v))
        parts.append(
            f'<polyline fill="none" stroke="{color}" stroke-width="1.6" '
            f'points="{path}"><title>{e(run)}</title></polyline>'
        )
        parts.append(
            f'<text x="{WIDTH - 150}" y="{20 + 14 * index}" fill="{color}" '
            f'style="fill:{color}">{e(run[:24])}</text>'
        )
    return _svg(parts, f"{y_label} by {x_label}")


def _svg(parts: list[str], label: str) -> str:
    return (
        f'<svg role="img" aria-label="{e(label)}" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'width="{WIDTH}" height="{HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        + "".join(parts)
        + "</svg>"
    )

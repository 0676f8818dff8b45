"""Small inline SVG charts for HTML reports (an evaluation's, the insights): no plotting
library, no script.

Every text that goes into a chart is escaped; the charts are plain markup
that any browser draws.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea")
_FONT = 'font-family="system-ui, sans-serif" font-size="12"'


_LABEL_W, _BAR_H, _GAP, _TOP = 200, 18, 6, 28


def _horizontal(
    rows: Sequence[tuple[str, float, str]], width: int, title: str, reserve: int, fill: bool
) -> str:
    """Labelled horizontal bars: (label, length in [0, 1], text after the bar)."""
    height = _TOP + len(rows) * (_BAR_H + _GAP) + 10
    span = width - _LABEL_W - reserve
    parts = [_open(width, height, title), _title(title)]
    for i, (label, share, text) in enumerate(rows):
        y = _TOP + i * (_BAR_H + _GAP)
        length = max(0.0, min(1.0, share)) * span
        track = (
            f'<rect x="{_LABEL_W}" y="{y}" width="{span}" height="{_BAR_H}" fill="#e5e7eb"/>'
            if fill
            else ""
        )
        colour = COLOURS[0] if fill else COLOURS[i % len(COLOURS)]
        parts.append(
            f'<text x="{_LABEL_W - 8}" y="{y + 13}" text-anchor="end" {_FONT}>{escape(label)}'
            f"</text>{track}"
            f'<rect class="bar" x="{_LABEL_W}" y="{y}" width="{length:.1f}" height="{_BAR_H}" '
            f'fill="{colour}"/>'
            f'<text x="{_LABEL_W + length + 4:.1f}" y="{y + 13}" {_FONT}>{escape(text)}</text>'
        )
    return "".join(parts) + "</svg>"


def bars(rows: Sequence[tuple[str, float]], *, width: int = 640, title: str = "") -> str:
    """Horizontal bars for values in [0, 1], labelled with their value."""
    return _horizontal([(label, v, f"{v:.3f}") for label, v in rows], width, title, 60, True)


def tallies(rows: Sequence[tuple[str, int]], *, width: int = 640, title: str = "") -> str:
    """Horizontal bars of counts, scaled to the largest, labelled with count and share."""
    total = sum(count for _, count in rows) or 1
    peak = max((count for _, count in rows), default=0) or 1
    shown = [(label, c / peak, f"{c} ({c / total:.0%})") for label, c in rows]
    return _horizontal(shown, width, title, 90, False)


def columns(
    rows: Sequence[tuple[str, int]],
    *,
    title: str = "",
    width: int = 640,
    height: int = 220,
    labels: int = 8,
) -> str:
    """Vertical columns of counts in order (one per day, say), with at most ``labels``
    labels under them, evenly spread, and the largest count on the axis."""
    if not rows:
        return ""
    left, right, top, bottom = 40, 10, 30, 30
    plot_w, plot_h = width - left - right, height - top - bottom
    peak = max(count for _, count in rows) or 1
    step = min(plot_w / len(rows), 48.0)  # a few days: narrow columns, not slabs
    every = max(1, -(-len(rows) // labels))  # ceiling division
    base = top + plot_h
    parts = [_open(width, height, title), _title(title)]
    parts.append(
        f'<line x1="{left}" x2="{left + plot_w}" y1="{base}" y2="{base}" stroke="#6b7280"/>'
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" {_FONT}>{peak}</text>'
    )
    for i, (label, count) in enumerate(rows):
        h = count / peak * plot_h
        x = left + i * step
        parts.append(
            f'<rect class="column" x="{x + step * 0.1:.1f}" y="{base - h:.1f}" '
            f'width="{max(step * 0.8, 0.5):.1f}" height="{h:.1f}" fill="{COLOURS[0]}">'
            f"<title>{escape(label)}: {count}</title></rect>"
        )
        if i % every == 0:
            parts.append(
                f'<text x="{x + step / 2:.1f}" y="{base + 16}" text-anchor="middle" {_FONT}>'
                f"{escape(label)}</text>"
            )
    return "".join(parts) + "</svg>"


def _bins(values: Sequence[float], low: float, high: float, n: int) -> list[int]:
    counts = [0] * n
    step = (high - low) / n or 1.0
    for v in values:
        counts[min(n - 1, max(0, int((v - low) / step)))] += 1
    return counts


def histogram(
    series: dict[str, Sequence[float]],
    *,
    bins: int = 30,
    marker: tuple[str, float] | None = None,
    x_label: str = "",
    title: str = "",
    width: int = 640,
    height: int = 260,
) -> str:
    """Overlaid histograms of each series (as shares of that series), with an optional
    vertical line (label, x) such as a threshold."""
    values = [v for vs in series.values() for v in vs] + ([marker[1]] if marker else [])
    if not values:
        return ""
    low, high = min(values), max(values)
    if high == low:
        high = low + 1.0
    left, right, top, bottom = 50, 30, 30, 40
    plot_w, plot_h = width - left - right, height - top - bottom
    shares = {
        name: [c / max(1, len(vs)) for c in _bins(vs, low, high, bins)]
        for name, vs in series.items()
    }
    peak = max((s for ss in shares.values() for s in ss), default=1.0) or 1.0
    parts = [_open(width, height, title), _title(title)]
    parts.append(_axes(left, top, plot_w, plot_h, low, high, peak, x_label))
    bar_w = plot_w / bins
    for index, (name, counts) in enumerate(shares.items()):
        colour = COLOURS[index % len(COLOURS)]
        for b, share in enumerate(counts):
            h = share / peak * plot_h
            parts.append(
                f'<rect x="{left + b * bar_w:.1f}" y="{top + plot_h - h:.1f}" '
                f'width="{bar_w:.1f}" height="{h:.1f}" fill="{colour}" fill-opacity="0.45"/>'
            )
        parts.append(
            f'<rect x="{left + plot_w - 170}" y="{top + 4 + index * 16}" width="10" height="10" '
            f'fill="{colour}"/><text x="{left + plot_w - 155}" y="{top + 13 + index * 16}" '
            f"{_FONT}>{escape(name)} ({len(series[name])})</text>"
        )
    if marker:
        x = left + (marker[1] - low) / (high - low) * plot_w
        parts.append(
            f'<line class="marker" x1="{x:.1f}" x2="{x:.1f}" y1="{top}" y2="{top + plot_h}" '
            f'stroke="#111827" stroke-dasharray="4 3" stroke-width="1.5"/>'
            f'<text x="{x + 4:.1f}" y="{top + 12}" {_FONT}>{escape(marker[0])}</text>'
        )
    return "".join(parts) + "</svg>"


def _axes(
    left: int, top: int, w: int, h: int, low: float, high: float, peak: float, x_label: str
) -> str:
    base = top + h
    ticks = []
    for i in range(6):
        x = left + w * i / 5
        value = low + (high - low) * i / 5
        ticks.append(
            f'<text x="{x:.1f}" y="{base + 15}" text-anchor="middle" {_FONT}>{_tick(value)}</text>'
        )
    return (
        f'<line x1="{left}" x2="{left + w}" y1="{base}" y2="{base}" stroke="#6b7280"/>'
        f'<line x1="{left}" x2="{left}" y1="{top}" y2="{base}" stroke="#6b7280"/>'
        f'<text x="{left - 6}" y="{top + 10}" text-anchor="end" {_FONT}>{peak:.0%}</text>'
        + "".join(ticks)
        + f'<text x="{left + w / 2:.1f}" y="{base + 32}" text-anchor="middle" {_FONT}>'
        f"{escape(x_label)}</text>"
    )


def _tick(value: float) -> str:
    return f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"


def _open(width: int, height: int, title: str) -> str:
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" role="img" aria-label="{escape(title)}" '
        f'width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
    )


def _title(title: str) -> str:
    return f'<text x="8" y="18" font-weight="bold" {_FONT}>{escape(title)}</text>'

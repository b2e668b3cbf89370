"""The warm-latency histogram of the report, drawn with PIL alone (no plotting library to
install in CI): bars of latencies, solid lines at p50/p95/p99, dashed lines at their budgets."""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

from PIL import Image, ImageDraw

from harness.output.draw import RGB, font
from harness.output.stats import percentile

WIDTH, HEIGHT = 760, 320
LEFT, RIGHT, TOP, BOTTOM = 62, 24, 58, 48
BAR: RGB = (86, 132, 190)
AXIS: RGB = (60, 60, 60)
GRID: RGB = (228, 228, 228)
PERCENTILES: tuple[tuple[str, float, RGB], ...] = (
    ("p50", 50.0, (30, 150, 60)),
    ("p95", 95.0, (235, 120, 0)),
    ("p99", 99.0, (200, 30, 40)),
)
OFF_SCALE = 3.0
"""A budget further than this many times the slowest request is named, not drawn to scale:
a 5 s budget would squash 20 ms bars into one pixel."""


def budget_for(budgets: Mapping[str, float], name: str) -> float | None:
    """``budgets["p95_ms"]`` (cvat-fn.yaml's name) or ``budgets["p95"]``."""
    for key in (f"{name}_ms", name):
        value = budgets.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            return float(value)
    return None


def _nice_step(span: float, ticks: int = 6) -> float:
    raw = span / ticks
    magnitude = 10 ** math.floor(math.log10(raw))
    for factor in (1, 2, 2.5, 5, 10):
        if raw <= factor * magnitude:
            return factor * magnitude
    return 10 * magnitude


def _label(value: float) -> str:
    if value >= 10 or value == int(value):
        return f"{value:.0f}"
    return f"{value:.1f}" if value >= 1 else f"{value:.2f}"


def _dashed_vline(draw: ImageDraw.ImageDraw, x: float, top: float, bottom: float, color: RGB):
    y = top
    while y < bottom:
        draw.line([(x, y), (x, min(bottom, y + 6))], fill=color, width=2)
        y += 10


def latency_histogram(
    latencies_ms: Sequence[float], budgets: Mapping[str, float], what: str = "warm latency"
) -> Image.Image:
    """A ``WIDTH`` x ``HEIGHT`` RGB chart of ``latencies_ms`` against ``budgets``
    (keys ``p50_ms``/``p95_ms``/``p99_ms``, as in cvat-fn.yaml)."""
    img = Image.new("RGB", (WIDTH, HEIGHT), (255, 255, 255))
    draw = ImageDraw.Draw(img)
    text, small = font(13), font(11)
    plot_l, plot_r, plot_t, plot_b = LEFT, WIDTH - RIGHT, TOP, HEIGHT - BOTTOM
    values = [v for v in latencies_ms if math.isfinite(v) and v >= 0]
    draw.text((plot_l, 8), f"{what}, {len(values)} requests", fill=AXIS, font=text)
    if not values:
        draw.rectangle((plot_l, plot_t, plot_r, plot_b), outline=GRID)
        draw.text(
            (plot_l + 12, plot_t + 12), "no warm requests were measured", fill=AXIS, font=text
        )
        return img

    marks = [(name, percentile(values, q), color) for name, q, color in PERCENTILES]
    slowest = max(values)
    scaled = {name: budget_for(budgets, name) for name, _, _ in PERCENTILES}
    on_scale = [b for b in scaled.values() if b is not None and b <= OFF_SCALE * max(slowest, 1)]
    high = max([slowest, *on_scale]) * 1.08 or 1.0
    low = min(values)
    lowest_mark = min([low, *on_scale])
    start = 0.0 if lowest_mark < 0.5 * high else lowest_mark * 0.9
    step = _nice_step(high - start)
    start = math.floor(start / step) * step
    end = math.ceil(high / step) * step

    def x_of(v: float) -> float:
        return plot_l + (v - start) / (end - start) * (plot_r - plot_l)

    if slowest > low:
        bins = max(8, min(40, round(2 * math.sqrt(len(values)))))
        width, first = (slowest - low) / bins, low
    else:  # all alike: one bar centred on the value
        bins, width = 1, (end - start) / 40
        first = low - width / 2
    counts = [0] * bins
    for v in values:
        counts[min(bins - 1, int((v - first) / width))] += 1
    top_count = max(counts)
    y_step = max(1, math.ceil(_nice_step(top_count, 4)))
    y_end = math.ceil(top_count / y_step) * y_step

    def y_of(c: float) -> float:
        return plot_b - c / y_end * (plot_b - plot_t)

    for c in range(0, y_end + 1, y_step):
        y = y_of(c)
        draw.line([(plot_l, y), (plot_r, y)], fill=GRID)
        box = draw.textbbox((0, 0), str(c), font=small)
        draw.text((plot_l - 6 - box[2], y - box[3] / 2), str(c), fill=AXIS, font=small)
    tick = start
    while tick <= end + step / 2:
        x = x_of(tick)
        draw.line([(x, plot_b), (x, plot_b + 4)], fill=AXIS)
        label = _label(tick)
        box = draw.textbbox((0, 0), label, font=small)
        draw.text((x - box[2] / 2, plot_b + 6), label, fill=AXIS, font=small)
        tick += step

    for i, count in enumerate(counts):
        if count:
            x0, x1 = x_of(first + i * width), x_of(first + (i + 1) * width)
            draw.rectangle((x0 + 1, y_of(count), max(x0 + 1, x1 - 1), plot_b), fill=BAR)

    notes: list[tuple[str, RGB]] = []
    for name, value, color in marks:
        draw.line([(x_of(value), plot_t), (x_of(value), plot_b)], fill=color, width=2)
        budget = scaled[name]
        if budget is None:
            notes.append((f"{name} {_label(value)} ms", color))
            continue
        verdict = "within" if value <= budget else "OVER"
        where = "" if budget in on_scale else " (off scale)"
        note = f"{name} {_label(value)} ms, {verdict} budget {_label(budget)} ms{where}"
        notes.append((note, color))
        if budget in on_scale:
            _dashed_vline(draw, x_of(budget), plot_t, plot_b, color)

    draw.line([(plot_l, plot_t), (plot_l, plot_b), (plot_r, plot_b)], fill=AXIS, width=1)
    x, y = float(plot_l), 30.0
    for note, color in notes:
        needed = 18 + draw.textlength(note, font=small)
        if x > plot_l and x + needed > plot_r:
            x, y = float(plot_l), y + 14
        draw.line([(x, y + 7), (x + 14, y + 7)], fill=color, width=2)
        draw.text((x + 18, y), note, fill=color, font=small)
        x += needed + 14
    caption = "latency (ms); solid: measured percentile, dashed: its budget"
    box = draw.textbbox((0, 0), caption, font=small)
    draw.text(((plot_l + plot_r - box[2]) / 2, HEIGHT - 18), caption, fill=AXIS, font=small)
    axis = Image.new("RGB", (plot_b - plot_t, 16), (255, 255, 255))
    ImageDraw.Draw(axis).text((0, 0), "requests", fill=AXIS, font=small)
    img.paste(axis.rotate(90, expand=True), (6, plot_t))
    return img

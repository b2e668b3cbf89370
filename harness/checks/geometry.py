"""Boxes and their overlap: how answers are matched to expectations and to each other."""

from __future__ import annotations

from collections.abc import Sequence

Box = tuple[float, float, float, float]


def iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def box_of(points: Sequence[float]) -> Box:
    xs, ys = points[0::2], points[1::2]
    return (min(xs), min(ys), max(xs), max(ys))


def fmt_box(box: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in box) + "]"


def greedy_match(
    left: Sequence[tuple[str | None, Box]], right: Sequence[tuple[str | None, Box]], minimum: float
) -> list[tuple[int, int, float]]:
    """Pairs (i, j, IoU) of left and right items, best overlap first, each used once; a
    label of None on the left matches any label."""
    candidates = sorted(
        (
            (iou(lb, rb), i, j)
            for i, (ll, lb) in enumerate(left)
            for j, (rl, rb) in enumerate(right)
            if ll is None or ll == rl
        ),
        reverse=True,
    )
    used_left: set[int] = set()
    used_right: set[int] = set()
    pairs = []
    for score, i, j in candidates:
        if score < minimum or i in used_left or j in used_right:
            continue
        used_left.add(i)
        used_right.add(j)
        pairs.append((i, j, score))
    return pairs

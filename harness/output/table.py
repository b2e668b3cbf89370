"""Plain text tables for the terminal: what a function answered, readable without a viewer."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from harness.cvat.shapes import Shape


def render(
    headers: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int] = ()
) -> str:
    """Columns padded to their widest cell; the columns at ``numeric`` are right-aligned."""
    cells = [[str(h) for h in headers]] + [["" if c is None else str(c) for c in r] for r in rows]
    widths = [max(len(row[i]) for row in cells) for i in range(len(headers))]

    def line(row: Sequence[str]) -> str:
        parts = [
            cell.rjust(widths[i]) if i in numeric else cell.ljust(widths[i])
            for i, cell in enumerate(row)
        ]
        return "  ".join(parts).rstrip()

    rule = "  ".join("-" * w for w in widths)
    return "\n".join([line(cells[0]), rule, *(line(r) for r in cells[1:])])


def number(value: float | None, digits: int = 1) -> str:
    """A coordinate or score without noise: ``176`` for 176.0, ``118.6`` for 118.6123."""
    if value is None:
        return "-"
    text = f"{value:.{digits}f}"
    return text.rstrip("0").rstrip(".") if "." in text else text


def box_text(box: Sequence[float] | None) -> str:
    if box is None:
        return "-"
    return "[" + ", ".join(number(v) for v in box) + "]"


def shapes_table(shapes: Sequence[Shape]) -> str:
    """One row a shape: index, label, type, confidence, box ``[xtl, ytl, xbr, ybr]``."""
    if not shapes:
        return "(no shapes)"
    rows = [
        [
            i,
            shape.label or "-",
            shape.type + (f" ({len(shape.elements)} elements)" if shape.elements else ""),
            number(shape.confidence, 3),
            box_text(shape.box_or_none()) if shape.type != "tag" else "-",
        ]
        for i, shape in enumerate(shapes)
    ]
    return render(["#", "label", "type", "confidence", "box [xtl, ytl, xbr, ybr]"], rows, (0, 3))


def matches_table(
    matches: Sequence[Any], boxes0: Sequence[Sequence[float]], boxes1: Sequence[Sequence[float]]
) -> str:
    """A re-id answer: boxes0[i] -> boxes1[j], or "no match" where j is -1 (or not an index)."""
    if not matches:
        return "(no matches)"
    rows = []
    for i, j in enumerate(matches):
        box0 = box_text(boxes0[i]) if i < len(boxes0) else "-"
        if isinstance(j, int) and not isinstance(j, bool) and 0 <= j < len(boxes1):
            rows.append([i, box0, "->", j, box_text(boxes1[j])])
        elif j == -1:
            rows.append([i, box0, "->", -1, "no match"])
        else:
            rows.append([i, box0, "->", repr(j), "not an index of boxes1"])
    return render(["i", "boxes0[i]", "", "j", "boxes1[j]"], rows, (0, 3))

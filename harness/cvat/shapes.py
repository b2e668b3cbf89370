"""Whatever a function answered, as shapes the CLI can print and draw and the checks can match.

Tolerant on purpose: a malformed item is skipped here (``validate`` is what names it), so a
half-broken answer still shows what the function did return.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

MASK_BITMAP = "bitmap"
"""A detector's mask: the row-major 0/1 bitmap of its box, then ``[xtl, ytl, xbr, ybr]``."""
MASK_RLE = "rle"
"""An interactor's (or tracker's) mask: run lengths starting with a run of 0s, then the box."""


@dataclass
class Shape:
    label: str
    type: str
    points: list[float]
    confidence: float | None = None
    attributes: list[dict[str, Any]] = field(default_factory=list)
    raw: Any = None
    elements: list[Shape] = field(default_factory=list)
    """Skeleton elements (each a ``points`` shape)."""
    encoding: str = ""
    """For masks: :data:`MASK_BITMAP` or :data:`MASK_RLE`; empty otherwise."""

    def bbox(self) -> tuple[float, float, float, float]:
        """``(xtl, ytl, xbr, ybr)``. Masks: their trailing box; ellipses: the box around them
        (CVAT stores the centre and the right-top corner); skeletons: around their elements."""
        if self.type == "mask" and self.encoding in (MASK_BITMAP, MASK_RLE):
            if len(self.points) < 4:
                raise ValueError("a mask without its trailing [xtl, ytl, xbr, ybr] has no box")
            xtl, ytl, xbr, ybr = self.points[-4:]
            return (xtl, ytl, xbr, ybr)
        if self.type == "ellipse" and len(self.points) == 4:
            cx, cy, rx_x, ry_y = self.points
            rx, ry = abs(rx_x - cx), abs(cy - ry_y)
            return (cx - rx, cy - ry, cx + rx, cy + ry)
        points = list(self.points)
        if self.type == "skeleton" and not points:
            for e in self.elements:
                points.extend(e.points[:2])
        if len(points) < 2:
            raise ValueError(f"this {self.type or 'shape'} has no points, so no box")
        xs, ys = points[0::2], points[1::2]
        return (min(xs), min(ys), max(xs), max(ys))

    def box_or_none(self) -> tuple[float, float, float, float] | None:
        """The box, or None for a shape without one (a tag, a mask missing its box)."""
        try:
            return self.bbox()
        except ValueError:
            return None

    def to_json(self) -> dict[str, Any]:
        """The shape as JSON for reports and ``invoke --json``, with its box worked out."""
        box = self.box_or_none()
        out: dict[str, Any] = {
            "label": self.label,
            "type": self.type,
            "points": list(self.points),
            "box": list(box) if box is not None else None,
            "confidence": self.confidence,
            "encoding": self.encoding,
        }
        if self.attributes:
            out["attributes"] = self.attributes
        if self.elements:
            out["elements"] = [e.to_json() for e in self.elements]
        return out

    def mask(self) -> list[list[int]]:
        """The mask's rows over its box (1 inside), for either encoding."""
        if self.type != "mask" or self.encoding not in (MASK_BITMAP, MASK_RLE):
            raise ValueError(f"this {self.type} is not a mask")
        xtl, ytl, xbr, ybr = (int(v) for v in self.bbox())
        width, height = xbr - xtl + 1, ybr - ytl + 1
        if width <= 0 or height <= 0:
            return []
        body = self.points[:-4]
        flat = (
            rle_to_bitmap(body, width * height)
            if self.encoding == MASK_RLE
            else [1 if v else 0 for v in body]
        )
        flat = (flat + [0] * (width * height))[: width * height]
        return [flat[r * width : (r + 1) * width] for r in range(height)]


def rle_to_bitmap(counts: Sequence[float], size: int) -> list[int]:
    """CVAT's run lengths (first run is 0s) -> a flat 0/1 list, cut or padded to ``size``."""
    out: list[int] = []
    value = 0
    for c in counts:
        out.extend([value] * max(0, int(c)))
        if len(out) >= size:
            break
        value = 1 - value
    return (out + [0] * size)[:size]


def bitmap_to_rle(bitmap: Sequence[int]) -> list[int]:
    """A flat 0/1 list -> CVAT's run lengths, which always start with the run of 0s."""
    counts: list[int] = []
    value, run = 0, 0
    for v in bitmap:
        bit = 1 if v else 0
        if bit == value:
            run += 1
        else:
            counts.append(run)
            value, run = bit, 1
    counts.append(run)
    return counts


def _is_number(v: Any) -> bool:
    return isinstance(v, int | float) and not isinstance(v, bool) and math.isfinite(v)


def _numbers(v: Any) -> list[float] | None:
    if not isinstance(v, list | tuple) or not all(_is_number(x) for x in v):
        return None
    return [float(x) for x in v]


def _confidence(v: Any) -> float | None:
    if _is_number(v):
        return float(v)
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            return None
        return f if math.isfinite(f) else None
    return None


def _attributes(v: Any) -> list[dict[str, Any]]:
    if not isinstance(v, list):
        return []
    return [dict(a) for a in v if isinstance(a, Mapping)]


def _detector_shape(item: Any) -> Shape | None:
    if not isinstance(item, Mapping) or not isinstance(item.get("type"), str):
        return None
    type_: str = item["type"]
    label = item.get("label")

    def make(type_: str, points: list[float], **extra: Any) -> Shape:
        return Shape(
            label=label if isinstance(label, str) else "",
            type=type_,
            points=points,
            confidence=_confidence(item.get("confidence")),
            attributes=_attributes(item.get("attributes")),
            raw=item,
            **extra,
        )

    if type_.lower() == "tag":
        return make("tag", [])
    if type_ == "skeleton":
        elements = item.get("elements")
        parsed = [_detector_shape(e) for e in elements] if isinstance(elements, list) else []
        kept = [e for e in parsed if e is not None]
        return make("skeleton", [c for e in kept for c in e.points[:2]], elements=kept)
    if type_ == "mask" and "mask" in item:
        mask = _numbers(item.get("mask"))
        if mask is None or len(mask) < 4:
            return None
        return make("mask", mask, encoding=MASK_BITMAP)
    points = _numbers(item.get("points"))
    if points is None or len(points) < 2:
        return None
    return make(type_, points)


def _interactor_shapes(body: Any) -> list[Shape]:
    if isinstance(body, Mapping) and "mask" in body:
        rows = body["mask"]
        if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
            return []
        width = len(rows[0])
        if width == 0 or any(len(r) != width for r in rows):
            return []
        cells = [c for r in rows for c in r]
        if not all(_is_number(c) for c in cells):
            return []
        # CVAT 2.73 places a legacy mask at (0, 0) whatever "bounds" says.
        box = [0.0, 0.0, float(width - 1), float(len(rows) - 1)]
        bitmap = [float(c) for c in cells] + box
        return [Shape(label="", type="mask", points=bitmap, encoding=MASK_BITMAP, raw=body)]
    if isinstance(body, Mapping) and isinstance(body.get("shapes"), list):
        out = []
        for item in body["shapes"]:
            if not isinstance(item, Mapping):
                continue
            type_ = item.get("type", "mask")
            rle = _numbers(item.get("points"))
            if not isinstance(type_, str) or rle is None or len(rle) < 4:
                continue
            encoding = MASK_RLE if type_ == "mask" else ""
            out.append(
                Shape(
                    label="",
                    type=type_,
                    points=rle,
                    encoding=encoding,
                    raw=item,
                    attributes=_attributes(item.get("attributes")),
                )
            )
        return out
    if isinstance(body, list):
        # The pre-2.x answer: a polygon as [[x, y], ...]. Shown, though CVAT now rejects it.
        pairs = [p for p in body if isinstance(p, list | tuple) and len(p) == 2]
        flat = _numbers([c for p in pairs for c in p])
        if flat and len(pairs) == len(body):
            return [Shape(label="", type="polygon", points=flat, raw=body)]
    return []


def _tracker_shapes(body: Any) -> list[Shape]:
    if not isinstance(body, Mapping) or not isinstance(body.get("shapes"), list):
        return []
    out = []
    for item in body["shapes"]:
        if isinstance(item, Mapping):
            type_ = item.get("type", "rectangle")
            typed = _numbers(item.get("points"))
            if not isinstance(type_, str) or typed is None or len(typed) < 2:
                continue
            encoding = MASK_RLE if type_ == "mask" else ""
            out.append(Shape(label="", type=type_, points=typed, raw=item, encoding=encoding))
        else:
            points = _numbers(item)
            if points is not None and len(points) >= 2:
                # Legacy point lists are rectangles to CVAT, which takes the box around them.
                xs, ys = points[0::2], points[1::2]
                box = [min(xs), min(ys), max(xs), max(ys)]
                out.append(Shape(label="", type="rectangle", points=box, raw=item))
    return out


def shapes_from_response(kind: str, body: Any) -> list[Shape]:
    """The shapes in a parsed response of a ``kind`` function; malformed items are skipped.
    Re-id answers are matches, not shapes: ``[]``."""
    if kind == "detector":
        if not isinstance(body, list):
            return []
        return [s for s in (_detector_shape(item) for item in body) if s is not None]
    if kind == "interactor":
        return _interactor_shapes(body)
    if kind == "tracker":
        return _tracker_shapes(body)
    if kind == "reid":
        return []
    raise ValueError(
        f"unknown function kind {kind!r}: CVAT calls detector, interactor, tracker, reid"
    )

"""Geometric relations a function's answers must keep without any ground truth: the frame
flipped left to right, the frame at another scale, and regions of interest cropped as CVAT
crops them (``cvat/apps/lambda_manager/utils.py`` ``ROIHelper.crop_image`` and
``views.py`` ``_get_roi`` in CVAT 2.73.0). Each is a per-axis affine map of the frame's
coordinates; shapes of every type move with it, masks with their bitmaps."""

from __future__ import annotations

import io
import math
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
from PIL import Image, ImageOps

from harness.cvat.roi import Roi, crop_frame
from harness.cvat.shapes import MASK_BITMAP, MASK_RLE, Shape

RELATIONS = ("flip", "scale", "roi")
"""The relations the geometry check knows, as cvat-fn.yaml's ``geometry:`` names them."""

SCALE_UP = 1.5
SCALE_DOWN = 0.5
LARGEST_SCALED_SIDE = 1024
"""Frames whose longer side is at most this are sent at 1.5x (not 2x: a model's time grows
with the pixels, and any factor but 1 shows a shape that does not follow); larger ones at
0.5x."""
ROI_ASPECT = 1.6
"""A region is this much wider than high (or higher than wide), so that it is never square."""

Box = tuple[float, float, float, float]


@dataclass(frozen=True)
class Affine:
    """``x' = ax * x + bx``, ``y' = ay * y + by``; with ``swap`` x' is computed from y and y'
    from x (the axes exchanged)."""

    ax: float = 1.0
    bx: float = 0.0
    ay: float = 1.0
    by: float = 0.0
    swap: bool = False

    def point(self, x: float, y: float) -> tuple[float, float]:
        if self.swap:
            x, y = y, x
        return self.ax * x + self.bx, self.ay * y + self.by

    def close_to(self, other: Affine, size: tuple[int, int]) -> bool:
        """The same map, within 2% in scale and 1% of the frame in offset."""
        if self.swap != other.swap:
            return False
        w, h = max(size[0], 1), max(size[1], 1)
        return (
            abs(self.ax - other.ax) <= 0.02 * max(abs(other.ax), 1e-9)
            and abs(self.ay - other.ay) <= 0.02 * max(abs(other.ay), 1e-9)
            and abs(self.bx - other.bx) <= 0.01 * w
            and abs(self.by - other.by) <= 0.01 * h
        )

    def words(self) -> str:
        first, second = ("y", "x") if self.swap else ("x", "y")
        return f"x -> {_term(self.ax, first, self.bx)}, y -> {_term(self.ay, second, self.by)}"


def _term(a: float, axis: str, b: float) -> str:
    scale = f"{a:.3g}*{axis}" if abs(a - 1) > 1e-9 else axis
    if abs(a + 1) <= 1e-9:
        scale = f"-{axis}"
    if abs(b) < 0.05:
        return scale
    return f"{scale} {'+' if b > 0 else '-'} {abs(b):.4g}"


@dataclass
class View:
    """One transformed request: its frame, how the frame's coordinates map into it, and for
    an interactor the prompt moved along."""

    relation: str
    name: str
    """In words, for reports: "flipped left to right", "at 1.5x", "region [x1, y1, x2, y2]"."""
    image: bytes
    size: tuple[int, int]
    expected: Affine
    """Frame coordinates -> this view's coordinates."""
    frame_size: tuple[int, int]
    roi: tuple[int, int, int, int] | None = None
    pos_points: list[list[float]] = field(default_factory=list)
    neg_points: list[list[float]] = field(default_factory=list)
    obj_bbox: list[list[float]] | None = None


# -- frames ----------------------------------------------------------------------------------


def encode_like(image: Image.Image, fmt: str | None) -> bytes:
    """``image`` saved in ``fmt`` with Pillow's defaults (PNG where there is none), as CVAT
    saves a region it cropped (``_get_roi``: ``save(output, format=image.format or "PNG")``)."""
    out = io.BytesIO()
    fmt = fmt or "PNG"
    if fmt == "JPEG" and image.mode not in ("RGB", "L", "CMYK"):
        image = image.convert("RGB")
    image.save(out, format=fmt)
    return out.getvalue()


def flip_view(data: bytes, size: tuple[int, int]) -> View:
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format
        mirrored = ImageOps.mirror(img.convert("RGB") if img.mode == "P" else img)
        encoded = encode_like(mirrored, fmt)
    w, h = size
    return View("flip", "flipped left to right", encoded, size, Affine(-1.0, w, 1.0, 0.0), size)


def scale_for(size: tuple[int, int]) -> float:
    return SCALE_UP if max(size) <= LARGEST_SCALED_SIDE else SCALE_DOWN


def scale_view(data: bytes, size: tuple[int, int]) -> View:
    factor = scale_for(size)
    w, h = size
    new = (max(1, round(w * factor)), max(1, round(h * factor)))
    with Image.open(io.BytesIO(data)) as img:
        fmt = img.format
        source = img.convert("RGB") if img.mode not in ("RGB", "L") else img
        encoded = encode_like(source.resize(new, Image.Resampling.BICUBIC), fmt)
    expected = Affine(new[0] / w, 0.0, new[1] / h, 0.0)
    return View("scale", f"at {factor:g}x", encoded, new, expected, size)


def roi_view(data: bytes, size: tuple[int, int], roi: tuple[int, int, int, int]) -> View:
    x1, y1, x2, y2 = roi
    expected = Affine(1.0, -x1, 1.0, -y1)
    name = f"region [{x1}, {y1}, {x2}, {y2}]"
    return View("roi", name, crop_frame(data, Roi(*roi)), (x2 - x1, y2 - y1), expected, size, roi)


def regions(size: tuple[int, int], around: Box | None) -> list[tuple[int, int, int, int]]:
    """Two regions holding ``around`` (the shapes found, the prompt) with a margin: one wider
    than high, one higher than wide, both offset from the frame's corner on both axes."""
    w, h = size
    if w < 16 or h < 16:
        return []
    if around is None:
        around = (w * 0.25, h * 0.25, w * 0.75, h * 0.75)
    ax1, ay1, ax2, ay2 = around
    margin = max(0.5 * max(ax2 - ax1, ay2 - ay1), 16.0)
    core = (
        max(ax1 - margin, 1.0),
        max(ay1 - margin, 1.0),
        min(ax2 + margin, float(w)),
        min(ay2 + margin, float(h)),
    )
    out = []
    for wide in (True, False):
        cw, ch = core[2] - core[0], core[3] - core[1]
        if wide:
            cw = max(cw, ROI_ASPECT * ch)
        else:
            ch = max(ch, ROI_ASPECT * cw)
        box = _placed(core, cw, ch, w, h)
        if box is None:
            continue
        if box[2] - box[0] == box[3] - box[1]:  # never square: one side a little shorter
            x2, y2 = (box[2] - 1, box[3]) if wide else (box[2], box[3] - 1)
            box = (box[0], box[1], x2, y2)
        if box not in out and box[2] - box[0] >= 8 and box[3] - box[1] >= 8:
            out.append(box)
    return out


def _placed(core: Box, cw: float, ch: float, w: int, h: int) -> tuple[int, int, int, int] | None:
    """A cw x ch box centred on ``core``, moved inside [1, w] x [1, h] (offset on both axes)."""
    cw, ch = min(cw, w - 1), min(ch, h - 1)
    cx, cy = (core[0] + core[2]) / 2, (core[1] + core[3]) / 2
    x1 = min(max(cx - cw / 2, 1.0), w - cw)
    y1 = min(max(cy - ch / 2, 1.0), h - ch)
    box = (math.floor(x1), math.floor(y1), math.floor(x1 + cw), math.floor(y1 + ch))
    if box[0] < 1 or box[1] < 1 or box[2] <= box[0] or box[3] <= box[1]:
        return None
    return box


# -- prompts ---------------------------------------------------------------------------------


def move_prompt(
    view: View,
    pos: Sequence[Sequence[float]],
    neg: Sequence[Sequence[float]],
    obj_bbox: Sequence[Sequence[float]] | None,
) -> View:
    """An interactor's clicks and box moved with the frame: pixels flipped (x -> w - 1 - x),
    scaled, or shifted into the region as CVAT does (``ROIHelper.translate_prompt_points``)."""
    w = view.frame_size[0]

    def moved(points: Sequence[Sequence[float]]) -> list[list[float]]:
        out = []
        for p in points:
            x, y = float(p[0]), float(p[1])
            if view.relation == "flip":
                out.append([w - 1 - x, y])
            elif view.relation == "scale":
                out.append([round(x * view.expected.ax, 1), round(y * view.expected.ay, 1)])
            else:
                out.append([x + view.expected.bx, y + view.expected.by])
        return out

    box = None
    if obj_bbox:
        corners = moved(obj_bbox)
        xs, ys = [c[0] for c in corners], [c[1] for c in corners]
        box = [[min(xs), min(ys)], [max(xs), max(ys)]]
    return replace(view, pos_points=moved(pos), neg_points=moved(neg), obj_bbox=box)


# -- shapes ----------------------------------------------------------------------------------


def map_shape(shape: Shape, t: Affine) -> Shape:
    """``shape`` moved by ``t``: every point, a rectangle's corners in order, a mask's bitmap
    mirrored, exchanged or resampled with its box, a skeleton's elements."""
    if shape.type == "tag":
        return shape
    if shape.type == "mask" and shape.encoding in (MASK_BITMAP, MASK_RLE):
        return _map_mask(shape, t)
    if shape.type == "skeleton":
        elements = [map_shape(e, t) for e in shape.elements]
        points = [c for e in elements for c in e.points[:2]]
        return replace(shape, points=points, elements=elements, raw=None)
    pairs = [t.point(x, y) for x, y in zip(shape.points[0::2], shape.points[1::2], strict=False)]
    points = [c for p in pairs for c in p]
    if shape.type == "rectangle" and len(points) == 4:
        xs, ys = sorted(points[0::2]), sorted(points[1::2])
        points = [xs[0], ys[0], xs[1], ys[1]]
    return replace(shape, points=points, raw=None)


def _map_mask(shape: Shape, t: Affine) -> Shape:
    rows = np.asarray(shape.mask(), dtype=np.uint8)
    if rows.size == 0:
        return replace(shape, raw=None)
    xtl, ytl, xbr, ybr = shape.bbox()
    edges_x, edges_y = (xtl, xbr + 1), (ytl, ybr + 1)  # pixel columns -> continuous edges
    if t.swap:
        rows = rows.T
        edges_x, edges_y = edges_y, edges_x
    if t.ax < 0:
        rows = rows[:, ::-1]
    if t.ay < 0:
        rows = rows[::-1, :]
    nx = sorted(t.ax * e + t.bx for e in edges_x)
    ny = sorted(t.ay * e + t.by for e in edges_y)
    x0, y0 = round(nx[0]), round(ny[0])
    x1, y1 = max(round(nx[1]), x0 + 1), max(round(ny[1]), y0 + 1)
    width, height = x1 - x0, y1 - y0
    if (width, height) != (rows.shape[1], rows.shape[0]):
        cols = np.minimum((np.arange(width) * rows.shape[1] / width).astype(int), rows.shape[1] - 1)
        lines = np.minimum(
            (np.arange(height) * rows.shape[0] / height).astype(int), rows.shape[0] - 1
        )
        rows = rows[lines][:, cols]
    flat = [int(v) for v in rows.ravel()]
    box = [float(x0), float(y0), float(x1 - 1), float(y1 - 1)]
    return replace(shape, points=[float(v) for v in flat] + box, encoding=MASK_BITMAP, raw=None)


def as_point_set(shape: Shape) -> Shape:
    """A skeleton as the set of its elements' points: under a mirror a pose model's "left"
    element rightly becomes the other side's, so elements pair by place, not by label."""
    if shape.type != "skeleton":
        return shape
    points = [c for e in shape.elements for c in e.points[:2]]
    return Shape(shape.label, "points", points, confidence=shape.confidence)

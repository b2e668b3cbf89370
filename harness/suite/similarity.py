"""One notion of "the same shape" and "how close two shapes are", per shape type.

Every check that compares shapes (threshold monotonicity, accuracy, concurrency) asks here, so
a shape without area (a landmark, a horizontal line, a collinear skeleton, a tag) is judged by
what it is rather than by a box IoU that is 0 even against itself.

- rectangle, cuboid: IoU of their boxes (as COCO's bbox evaluation and CVAT's quality control,
  ``cvat/apps/quality_control/annotation_matching.py`` ``DistanceComparator.match_boxes``); a
  rotated rectangle (CVAT's ``rotation``) by the IoU of its turned area;
- polygon, mask, ellipse: IoU of their areas, rasterised by pycocotools as CVAT's
  ``segment_iou`` does (an ellipse as a polygon around it, as CVAT's ``match_ellipses``). A mask
  known only by its box (an expectation written as ``[xtl, ytl, xbr, ybr]``) compares by box;
- points, polyline, skeleton: object keypoint similarity, COCO's OKS
  (pycocotools ``COCOeval.computeOks``: the mean over keypoints of
  ``exp(-d^2 / (2 * area * (2 * sigma)^2))``), ``area`` being the box of the pair (CVAT's
  ``GROUP_BBOX_SIZE``) or, when both have no area (one point, points on a line), the image's,
  as CVAT's ``match_points`` does. Polylines are resampled to corresponding points along their
  length and compared in both directions on the image's scale, as CVAT's ``LineMatcher``;
  skeletons pair their elements by label;
- tag: always 1.0 against a tag (the labels decide, as for every type);
- different types: 0.0, never a match.
"""

from __future__ import annotations

import json
import math
from collections import Counter
from collections.abc import Callable, Mapping, Sequence

import numpy as np
from pycocotools import mask as mask_utils

from harness.cvat.shapes import MASK_BITMAP, MASK_RLE, Shape

Box = tuple[float, float, float, float]
Size = tuple[int, int]
"""An image's (width, height)."""

IOU, OKS, LABEL = "iou", "oks", "label"
"""How closeness is measured: area overlap, keypoint similarity, or the label alone."""

BOX_TYPES = frozenset({"rectangle", "cuboid"})
AREA_TYPES = frozenset({"rectangle", "cuboid", "polygon", "mask", "ellipse"})
KEYPOINT_TYPES = frozenset({"points", "polyline", "skeleton"})

POINT_SIGMA = 0.09
"""OKS sigma for points and skeleton keypoints: CVAT's quality-control default ``oks_sigma``,
within COCO's per-keypoint sigmas (0.025 for eyes to 0.107 for hips)."""
LINE_SIGMA = 0.01
"""OKS sigma for polylines, on the image's scale: CVAT's default ``line_thickness``."""

SAME_SHAPE = 0.9
"""Two answers to nearly the same request (two thresholds) hold "the same shape" at or above
this: IoU 0.9, or OKS 0.9 (a single point on a 512x512 frame may move about 40 px)."""
IDENTICAL = 0.99
"""Two answers to the same request are "the same answer" at or above this (concurrency)."""

ELLIPSE_VERTICES = 64


def measure(type_: str) -> str:
    """Which measure compares shapes of this type: :data:`IOU`, :data:`OKS` or :data:`LABEL`."""
    if type_ == "tag":
        return LABEL
    if type_ in KEYPOINT_TYPES:
        return OKS
    return IOU


def box_iou(a: Box, b: Box) -> float:
    ix = max(0.0, min(a[2], b[2]) - max(a[0], b[0]))
    iy = max(0.0, min(a[3], b[3]) - max(a[1], b[1]))
    inter = ix * iy
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def similarity(a: Shape, b: Shape, image_size: Size | None = None) -> float:
    """How close ``b`` is to ``a``, in [0, 1]; labels are not looked at (the matcher does).
    ``image_size`` scales keypoints that have no area of their own; without it their own
    extent does (or 1 px for a single point)."""
    if a.type != b.type:
        return 0.0
    kind = measure(a.type)
    if kind == LABEL:
        return 1.0
    if kind == OKS:
        if a.type == "skeleton":
            return _skeleton_oks(a, b, image_size)
        if a.type == "polyline":
            return _line_oks(a.points, b.points, image_size)
        return _points_oks(a.points, b.points, image_size)
    box_a, box_b = a.box_or_none(), b.box_or_none()
    if box_a is None or box_b is None:
        return 0.0
    turned = rotation(a) != 0 or rotation(b) != 0
    if a.type not in AREA_TYPES or (a.type in BOX_TYPES and not turned):
        return box_iou(box_a, box_b)
    if a.type == "mask" and any(not _has_bitmap(s) and len(s.points) == 4 for s in (a, b)):
        return box_iou(box_a, box_b)  # an expected mask written as its box
    return _area_iou(a, b)


# -- areas -----------------------------------------------------------------------------------


def _has_bitmap(shape: Shape) -> bool:
    return shape.type == "mask" and shape.encoding in (MASK_BITMAP, MASK_RLE)


def rotation(shape: Shape) -> float:
    """Degrees a rectangle or ellipse is turned about its centre (CVAT's ``rotation``)."""
    turn = shape.raw.get("rotation") if isinstance(shape.raw, Mapping) else None
    if not isinstance(turn, int | float) or isinstance(turn, bool) or not math.isfinite(turn):
        return 0.0
    return float(turn) % 360 if shape.type in ("rectangle", "ellipse") else 0.0


def _outline(shape: Shape) -> np.ndarray:
    """The shape's boundary as (x, y) rows: a rectangle's corners, an ellipse sampled, a
    polygon's (or an outlined mask's) points; turned by its rotation about its centre."""
    if shape.type not in ("rectangle", "ellipse"):
        return _pairs(shape.points)
    xtl, ytl, xbr, ybr = shape.bbox()
    cx, cy, rx, ry = (xtl + xbr) / 2, (ytl + ybr) / 2, (xbr - xtl) / 2, (ybr - ytl) / 2
    if shape.type == "rectangle":
        xy = np.array([[xtl, ytl], [xbr, ytl], [xbr, ybr], [xtl, ybr]], dtype=float)
    else:
        t = np.linspace(0, 2 * math.pi, ELLIPSE_VERTICES, endpoint=False)
        xy = np.stack([cx + rx * np.cos(t), cy + ry * np.sin(t)], axis=1)
    turn = math.radians(rotation(shape))
    if turn:
        cos, sin = math.cos(turn), math.sin(turn)
        rel = xy - (cx, cy)
        # clockwise on screen (y points down), as CVAT draws a positive rotation
        xy = np.stack([rel[:, 0] * cos - rel[:, 1] * sin, rel[:, 0] * sin + rel[:, 1] * cos], 1)
        xy += (cx, cy)
    return xy


def _rle(shape: Shape, x0: int, y0: int, width: int, height: int) -> list[dict[str, object]]:
    """The shape's area on a canvas whose top-left is (x0, y0), as pycocotools run lengths."""
    if _has_bitmap(shape):
        rows = shape.mask()
        canvas = np.zeros((height, width), dtype=np.uint8, order="F")
        if rows:
            xtl, ytl = int(shape.bbox()[0]) - x0, int(shape.bbox()[1]) - y0
            bitmap = np.asarray(rows, dtype=np.uint8)
            canvas[ytl : ytl + bitmap.shape[0], xtl : xtl + bitmap.shape[1]] = bitmap
        return [mask_utils.encode(canvas)]
    outline = _outline(shape)
    if len(outline) < 3:
        return [mask_utils.encode(np.zeros((height, width), dtype=np.uint8, order="F"))]
    moved = (outline - (x0, y0)).ravel().tolist()
    return list(mask_utils.frPyObjects([moved], height, width))


def _extent_of(shape: Shape) -> Box:
    if _has_bitmap(shape):
        return shape.bbox()
    xy = _outline(shape)
    return (xy[:, 0].min(), xy[:, 1].min(), xy[:, 0].max(), xy[:, 1].max())


def _area_iou(a: Shape, b: Shape) -> float:
    ea, eb = _extent_of(a), _extent_of(b)
    if box_iou(ea, eb) == 0.0:
        return 0.0
    x0, y0 = math.floor(min(ea[0], eb[0])), math.floor(min(ea[1], eb[1]))
    width = math.ceil(max(ea[2], eb[2])) - x0 + 2
    height = math.ceil(max(ea[3], eb[3])) - y0 + 2
    rle_a, rle_b = _rle(a, x0, y0, width, height), _rle(b, x0, y0, width, height)
    return float(mask_utils.iou(rle_b, rle_a, [0])[0][0])


# -- keypoints -------------------------------------------------------------------------------


def _pairs(points: Sequence[float]) -> np.ndarray:
    return np.asarray(points[: len(points) // 2 * 2], dtype=float).reshape(-1, 2)


def _extent(xy: np.ndarray) -> tuple[float, float]:
    if not len(xy):
        return 0.0, 0.0
    return float(np.ptp(xy[:, 0])), float(np.ptp(xy[:, 1]))


def _scale(a: np.ndarray, b: np.ndarray, image_size: Size | None, own_extent: bool) -> float:
    """The area OKS divides by: the pair's mean box, or the image when the boxes have none
    (CVAT's ``match_points``); without an image, the larger side of the pair squared."""
    (wa, ha), (wb, hb) = _extent(a), _extent(b)
    if own_extent and (wa * ha > 0 or wb * hb > 0):
        return (wa + wb) / 2 * (ha + hb) / 2
    if image_size is not None and image_size[0] * image_size[1] > 0:
        return float(image_size[0] * image_size[1])
    return max(wa, ha, wb, hb, 1.0) ** 2


def _kernel(distances: np.ndarray, area: float, sigma: float) -> np.ndarray:
    return np.exp(-(distances**2) / (2 * area * (2 * sigma) ** 2))


def _points_oks(a_points: Sequence[float], b_points: Sequence[float], size: Size | None) -> float:
    """Points shapes are unordered sets: pair the nearest points first, and count a point
    without a partner as 0."""
    a, b = _pairs(a_points), _pairs(b_points)
    if not len(a) or not len(b):
        return 1.0 if len(a) == len(b) else 0.0
    area = _scale(a, b, size, own_extent=True)
    near = np.linalg.norm(a[:, None, :] - b[None, :, :], axis=2)
    scores = _kernel(near, area, POINT_SIGMA)
    pairs = greedy_pairs(scores, 0.0)
    return sum(s for _, _, s in pairs) / max(len(a), len(b))


def greedy_pairs(scores: np.ndarray, minimum: float) -> list[tuple[int, int, float]]:
    """(row, column, score) pairs, best first, each row and column used once, scores at or
    above ``minimum`` only (COCO's evaluateImg matches greedily as well)."""
    order = sorted(
        (
            (float(scores[i, j]), i, j)
            for i in range(scores.shape[0])
            for j in range(scores.shape[1])
        ),
        key=lambda t: (-t[0], t[1], t[2]),
    )
    rows: set[int] = set()
    cols: set[int] = set()
    out = []
    for score, i, j in order:
        if score < minimum or i in rows or j in cols:
            continue
        rows.add(i)
        cols.add(j)
        out.append((i, j, score))
    return out


def _skeleton_oks(a: Shape, b: Shape, size: Size | None) -> float:
    """Elements pair by label (by position when labels are missing or repeated); an element
    only one side has, or has outside, counts as 0 (CVAT's ``oks`` with visibility)."""

    def keyed(s: Shape) -> dict[object, tuple[float, float] | None]:
        labels = [e.label for e in s.elements]
        by_label = all(labels) and len(set(labels)) == len(labels)
        out: dict[object, tuple[float, float] | None] = {}
        for i, e in enumerate(s.elements):
            outside = isinstance(e.raw, Mapping) and e.raw.get("outside") is True
            point = None if outside or len(e.points) < 2 else (e.points[0], e.points[1])
            out[e.label if by_label else i] = point
        return out

    ka, kb = keyed(a), keyed(b)
    keys = [k for k in ka if ka[k] is not None or kb.get(k) is not None]
    keys += [k for k in kb if k not in ka and kb[k] is not None]
    if not keys:
        return 1.0  # nothing visible on either side
    both = [k for k in keys if ka.get(k) is not None and kb.get(k) is not None]
    if not both:
        return 0.0
    pa = np.asarray([ka[k] for k in both], dtype=float)
    pb = np.asarray([kb[k] for k in both], dtype=float)
    area = _scale(pa, pb, size, own_extent=True)
    return float(_kernel(np.linalg.norm(pa - pb, axis=1), area, POINT_SIGMA).sum()) / len(keys)


def _resample(line: np.ndarray, at: np.ndarray) -> np.ndarray:
    steps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    if along[-1] <= 0:
        return np.repeat(line[:1], len(at), axis=0)
    along /= along[-1]
    return np.stack([np.interp(at, along, line[:, 0]), np.interp(at, along, line[:, 1])], axis=1)


def _positions(line: np.ndarray) -> np.ndarray:
    steps = np.linalg.norm(np.diff(line, axis=0), axis=1)
    along = np.concatenate([[0.0], np.cumsum(steps)])
    return along / along[-1] if along[-1] > 0 else np.zeros(1)


def _line_oks(a_points: Sequence[float], b_points: Sequence[float], size: Size | None) -> float:
    """Both lines resampled at every vertex position of either (as a fraction of its length),
    then OKS over those pairs, in whichever direction fits better (lines are unoriented)."""
    a, b = _pairs(a_points), _pairs(b_points)
    if len(a) < 2 or len(b) < 2:
        return _points_oks(a_points, b_points, size)
    at = np.union1d(_positions(a), _positions(b))
    ra = _resample(a, at)
    area = _scale(a, b, size, own_extent=False)
    best = 0.0
    for candidate in (b, b[::-1]):
        rb = _resample(candidate, at)
        best = max(best, float(_kernel(np.linalg.norm(ra - rb, axis=1), area, LINE_SIGMA).mean()))
    return best


# -- matching --------------------------------------------------------------------------------


Minimum = Callable[[Shape], float]


def match(
    left: Sequence[Shape],
    right: Sequence[Shape],
    minimum: float | Minimum,
    image_size: Size | None = None,
    any_label: bool = True,
) -> list[tuple[int, int, float]]:
    """Pairs (i, j, similarity) of left and right shapes, closest first, each used once, at or
    above ``minimum`` (a number, or one per left shape: its measure's minimum). With
    ``any_label``, a left shape without a label matches any label; otherwise labels must be
    equal."""
    least = minimum if callable(minimum) else (lambda _s: float(minimum))
    scores = np.full((len(left), len(right)), -1.0)
    left_keys, right_keys = [_exact(s) for s in left], [_exact(s) for s in right]
    for i, ls in enumerate(left):
        for j, rs in enumerate(right):
            if ls.type != rs.type or not (ls.label == rs.label or (any_label and not ls.label)):
                continue
            exact = left_keys[i] == right_keys[j]  # returned exactly alike: no need to measure
            score = 1.0 if exact else similarity(ls, rs, image_size)
            if score >= least(ls):
                scores[i, j] = score
    return greedy_pairs(scores, 0.0)


def best(shape: Shape, others: Sequence[Shape], image_size: Size | None = None) -> float:
    """The highest similarity of ``shape`` to any of ``others`` (labels aside), 0 if none."""
    return max((similarity(shape, o, image_size) for o in others), default=0.0)


def same_shapes(
    left: Sequence[Shape], right: Sequence[Shape], image_size: Size | None = None
) -> bool:
    """Whether two answers hold the same shapes in any order: as many, each paired with one of
    the same label and type at :data:`IDENTICAL` similarity or more."""
    if len(left) != len(right):
        return False
    # shapes returned exactly alike pair off first, so only the rest are measured (a mask's
    # IoU is not free, and an answer of many masks compares often under load)
    rest = Counter(_exact(s) for s in right)
    unpaired = []
    for shape in left:
        if rest[_exact(shape)] > 0:
            rest[_exact(shape)] -= 1
        else:
            unpaired.append(shape)
    others = []
    for shape in right:
        if rest[_exact(shape)] > 0:
            rest[_exact(shape)] -= 1
            others.append(shape)
    return len(match(unpaired, others, IDENTICAL, image_size, any_label=False)) == len(unpaired)


def _exact(shape: Shape) -> str:
    return json.dumps(
        [shape.label, shape.type, shape.points, shape.raw], sort_keys=True, default=str
    )


def where(shape: Shape) -> str:
    """A shape in a message: its label, and its box or its points."""
    name = shape.label or f"a {shape.type or 'shape'}"
    if shape.type == "tag":
        return f"tag {name}"
    if shape.type in ("points", "polyline") and len(shape.points) <= 8:
        return f"{name} {shape.type} at {_fmt(shape.points)}"
    box = shape.box_or_none()
    return f"{name} at {_fmt(box)}" if box is not None else name


def _fmt(values: Sequence[float]) -> str:
    return "[" + ", ".join(f"{v:g}" for v in values) + "]"

"""harness.suite.similarity: each shape type is compared by what it is. A shape without area equals
itself (box IoU said 0), moving it lowers its similarity, different types never match, and
the measures follow COCO's and CVAT's definitions:

- OKS as pycocotools ``COCOeval.computeOks``: ``exp(-d^2 / (2 * area * (2 * sigma)^2))``
  averaged over keypoints;
- points without area on the image's scale, as CVAT 2.x
  ``cvat/apps/quality_control/annotation_matching.py`` ``DistanceComparator.match_points``;
- polylines compared in both directions (``LineMatcher.distance``, ``oriented=False``);
- polygon and mask IoU rasterised by pycocotools as that file's ``segment_iou``.
"""

from __future__ import annotations

import math

import pytest

from harness.cvat.shapes import Shape, shapes_from_response
from harness.suite.similarity import (
    IDENTICAL,
    LINE_SIGMA,
    POINT_SIGMA,
    SAME_SHAPE,
    box_iou,
    match,
    measure,
    same_shapes,
    similarity,
    where,
)

FRAME = (512, 512)


def point(x: float, y: float, label: str = "nose") -> Shape:
    return Shape(label, "points", [x, y])


def line(*xy: float) -> Shape:
    return Shape("horizon", "polyline", list(xy))


def tag(label: str) -> Shape:
    return Shape(label, "tag", [])


def skeleton(dy: float = 0.0, order: tuple[int, ...] = (0, 1, 2)) -> Shape:
    """Three keypoints on a horizontal line, as a detector answers them."""
    elements = [("left", 150.0), ("middle", 256.0), ("right", 360.0)]
    item = {
        "label": "body",
        "type": "skeleton",
        "elements": [
            {"label": elements[i][0], "type": "points", "points": [elements[i][1], 256 + dy]}
            for i in order
        ],
    }
    return shapes_from_response("detector", [item])[0]


def oks(d: float, area: float, sigma: float) -> float:
    """COCO's per-keypoint similarity for a distance ``d``."""
    return math.exp(-(d**2) / (2 * area * (2 * sigma) ** 2))


def bitmap_mask(xtl: int, ytl: int, width: int, height: int) -> Shape:
    """A detector's full mask over a box: bitmap then [xtl, ytl, xbr, ybr] (inclusive)."""
    box = [xtl, ytl, xtl + width - 1, ytl + height - 1]
    return Shape("", "mask", [1.0] * (width * height) + [float(v) for v in box], encoding="bitmap")


@pytest.mark.parametrize(
    "shape",
    [point(128, 256), line(100, 256, 400, 256), skeleton(), tag("cat")],
    ids=["point", "horizontal-polyline", "collinear-skeleton", "tag"],
)
def test_a_shape_without_area_is_the_same_as_itself(shape: Shape) -> None:
    assert shape.type == "tag" or box_iou(*[shape.bbox()] * 2) == 0.0  # what used to decide
    assert similarity(shape, shape, FRAME) == 1.0
    assert same_shapes([shape], [shape], FRAME)


def test_a_single_point_is_scaled_to_the_image() -> None:
    area = FRAME[0] * FRAME[1]
    assert similarity(point(128, 256), point(131, 260), FRAME) == pytest.approx(
        oks(5, area, POINT_SIGMA)
    )
    moved = similarity(point(128, 256), point(128, 384), FRAME)
    assert moved == pytest.approx(oks(128, area, POINT_SIGMA))
    assert moved < 0.5  # below the default minimum, far below "the same"


def test_points_with_an_extent_are_scaled_to_their_box_in_any_order() -> None:
    a = Shape("eyes", "points", [100, 100, 200, 150])
    b = Shape("eyes", "points", [203, 154, 100, 100])  # the same points, listed the other way
    area = (103 + 100) / 2 * (54 + 50) / 2
    assert similarity(a, b, FRAME) == pytest.approx((1 + oks(5, area, POINT_SIGMA)) / 2)
    assert similarity(a, Shape("eyes", "points", [100, 100]), FRAME) == pytest.approx(0.5)


def test_a_polyline_is_unoriented_and_resampled_along_its_length() -> None:
    left_to_right = line(100, 256, 400, 256)
    assert similarity(left_to_right, line(400, 256, 100, 256), FRAME) == 1.0
    assert similarity(left_to_right, line(100, 256, 250, 256, 400, 256), FRAME) == 1.0
    area = FRAME[0] * FRAME[1]
    shifted = similarity(left_to_right, line(100, 259, 400, 259), FRAME)
    assert shifted == pytest.approx(oks(3, area, LINE_SIGMA))
    assert similarity(left_to_right, line(100, 384, 400, 384), FRAME) < 0.01


def test_skeleton_elements_pair_by_label() -> None:
    assert similarity(skeleton(), skeleton(order=(2, 0, 1)), FRAME) == 1.0
    area = FRAME[0] * FRAME[1]  # collinear: no area of their own
    assert similarity(skeleton(), skeleton(dy=10), FRAME) == pytest.approx(
        oks(10, area, POINT_SIGMA)
    )
    two = Shape("body", "skeleton", [], elements=skeleton().elements[:2])
    assert similarity(skeleton(), two, FRAME) == pytest.approx(2 / 3)  # a missing one counts 0


def test_tags_match_by_label_only() -> None:
    assert match([tag("cat")], [tag("dog"), tag("cat")], 1.0, FRAME) == [(0, 1, 1.0)]
    assert match([tag("cat")], [tag("dog")], 0.0, FRAME) == []
    assert not same_shapes([tag("cat")], [tag("dog")], FRAME)


def test_areas_overlap() -> None:
    square = [0, 0, 10, 0, 10, 10, 0, 10]
    right = [5, 0, 15, 0, 15, 10, 5, 10]
    assert similarity(
        Shape("f", "rectangle", [0, 0, 10, 10]), Shape("f", "rectangle", [5, 0, 15, 10])
    ) == pytest.approx(1 / 3)
    assert similarity(Shape("r", "polygon", square), Shape("r", "polygon", right)) == pytest.approx(
        1 / 3
    )
    # a triangle inside a box: the polygons' areas, not their boxes (identical), decide
    triangle = Shape("r", "polygon", [0, 0, 20, 0, 0, 20])
    assert similarity(triangle, Shape("r", "polygon", [0, 0, 20, 0, 20, 20, 0, 20])) < 0.6
    assert similarity(bitmap_mask(0, 0, 10, 10), bitmap_mask(5, 0, 10, 10)) == pytest.approx(1 / 3)
    # an expected mask written as its box compares with the returned mask's box
    assert similarity(Shape("", "mask", [0, 0, 9, 9]), bitmap_mask(0, 0, 10, 10)) == 1.0
    ellipse = Shape("e", "ellipse", [50, 50, 70, 30])  # centre (50, 50), radii 20
    assert similarity(ellipse, ellipse) == 1.0
    assert 0 < similarity(ellipse, Shape("e", "ellipse", [60, 50, 80, 30])) < 0.7


def test_a_rotated_rectangle_is_compared_by_its_turned_area() -> None:
    def box(rotation: float, points: list[float]) -> Shape:
        item = {"label": "f", "type": "rectangle", "points": points, "rotation": rotation}
        return shapes_from_response("detector", [item])[0]

    flat = [0.0, 0.0, 100.0, 20.0]  # centre (50, 10)
    assert similarity(box(0, flat), box(0, flat)) == 1.0
    # a quarter turn: the 20 x 100 box about the same centre, overlapping the flat one 20 x 20
    assert similarity(box(90, flat), box(0, [40, -40, 60, 60])) == pytest.approx(1.0, abs=0.02)
    assert similarity(box(0, flat), box(90, flat)) == pytest.approx(400 / 3600, abs=0.02)
    assert similarity(box(90, flat), box(270, flat)) == pytest.approx(1.0, abs=0.02)


def test_different_types_never_match() -> None:
    box = Shape("f", "rectangle", [0, 0, 10, 10])
    outline = Shape("f", "polygon", [0, 0, 10, 0, 10, 10, 0, 10])
    assert similarity(box, outline) == 0.0
    assert match([box], [outline], 0.0) == []
    assert similarity(point(5, 5, "f"), Shape("f", "polyline", [5, 5, 5, 5])) == 0.0


def test_answers_in_another_order_are_the_same_answer() -> None:
    answer = [point(128, 256), line(100, 256, 400, 256), skeleton(), tag("square")]
    assert same_shapes(answer, list(reversed(answer)), FRAME)
    assert not same_shapes(answer, answer[:3], FRAME)
    moved = [point(128, 384), *answer[1:]]
    assert not same_shapes(answer, moved, FRAME)


def test_the_thresholds_and_measures_are_documented() -> None:
    assert (measure("rectangle"), measure("mask"), measure("points")) == ("iou", "iou", "oks")
    assert (measure("skeleton"), measure("tag")) == ("oks", "label")
    assert SAME_SHAPE < IDENTICAL < 1.0
    assert where(point(128, 256)) == "nose points at [128, 256]"
    assert where(tag("cat")) == "tag cat"
    assert where(Shape("face", "rectangle", [1, 2, 3, 4])) == "face at [1, 2, 3, 4]"

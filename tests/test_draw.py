"""Shapes drawn on images: every CVAT shape type lands on its pixels in its label's colour,
expected shapes are dashed green, and a malformed shape leaves the image as it was."""

from __future__ import annotations

import io
import time
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from harness.cvat.shapes import MASK_BITMAP, MASK_RLE, Shape, bitmap_to_rle
from harness.output.draw import (
    EXPECTED_COLOR,
    MASK_ALPHA,
    PALETTE,
    draw_shapes,
    expected_to_shapes,
    label_color,
    save_png,
)
from harness.suite.config import Expected

GREY = (128, 128, 128)
W, H = 320, 240


@pytest.fixture
def blank() -> Image.Image:
    return Image.new("RGB", (W, H), GREY)


def px(img: Image.Image, x: int, y: int) -> tuple[int, int, int]:
    value = img.getpixel((x, y))
    assert isinstance(value, tuple)
    return (int(value[0]), int(value[1]), int(value[2]))


def near(img: Image.Image, x: int, y: int, color: tuple[int, int, int], r: int = 1) -> bool:
    """Whether ``color`` is exactly at (x, y) or within ``r`` pixels (lines are 2 px wide)."""
    return any(
        px(img, x + dx, y + dy) == color
        for dx in range(-r, r + 1)
        for dy in range(-r, r + 1)
        if 0 <= x + dx < img.width and 0 <= y + dy < img.height
    )


def test_rectangle_border_has_its_label_colour_and_inside_is_untouched(blank: Image.Image):
    car = label_color("car")
    out = draw_shapes(blank, [Shape("car", "rectangle", [100, 60, 200, 160], 0.9)])
    assert out.size == blank.size and out.mode == "RGB"
    assert near(out, 200, 110, car)  # right edge
    assert near(out, 150, 160, car)  # bottom edge
    assert px(out, 150, 110) == GREY  # inside
    assert px(out, 300, 20) == GREY  # far away
    assert blank.getpixel((200, 110)) == GREY, "the input image must not be drawn on"


def test_caption_sits_above_the_box_in_the_label_colour(blank: Image.Image):
    out = np.asarray(draw_shapes(blank, [Shape("car", "rectangle", [100, 60, 200, 160], 0.9)]))
    above = out[40:60, 100:200].reshape(-1, 3)
    assert (above == label_color("car")).all(axis=1).sum() > 100


def test_expected_is_dashed_green(blank: Image.Image):
    expected = [Shape("car", "rectangle", [100, 60, 200, 160])]
    out = draw_shapes(blank, [], expected)
    column = [px(out, x, y) for y in range(70, 150) for x in (199, 200, 201)]
    green = sum(c == EXPECTED_COLOR for c in column)
    assert green > 20, "the expected box is drawn"
    rows = {y for y in range(70, 150) if EXPECTED_COLOR in [px(out, x, y) for x in (199, 200, 201)]}
    assert len(rows) < 80, "with gaps: dashed, not solid"
    legend = np.asarray(out)[H - 30 :, :150].reshape(-1, 3)
    assert (legend == EXPECTED_COLOR).all(axis=1).any(), "the legend names 'expected'"


def test_expected_and_returned_overlap_both_visible(blank: Image.Image):
    box = [100, 60, 200, 160]
    out = draw_shapes(blank, [Shape("car", "rectangle", box)], [Shape("car", "rectangle", box)])
    pixels = np.asarray(out)[70:150, 195:206].reshape(-1, 3)
    assert (pixels == label_color("car")).all(axis=1).any()
    assert (pixels == EXPECTED_COLOR).all(axis=1).any()


def test_polygon_is_closed_and_polyline_is_not(blank: Image.Image):
    tri = [60, 60, 160, 60, 110, 150]
    poly = draw_shapes(blank, [Shape("road", "polygon", tri)])
    line = draw_shapes(blank, [Shape("road", "polyline", tri)])
    color = label_color("road")
    closing_mid = (85, 105)  # between (110, 150) and (60, 60)
    assert near(poly, 110, 60, color) and near(line, 110, 60, color)
    assert near(poly, *closing_mid, color)
    assert not near(line, *closing_mid, color)


def test_points_are_dots_at_each_point(blank: Image.Image):
    out = draw_shapes(blank, [Shape("kp", "points", [50, 100, 150, 120, 250, 140])])
    for x, y in ((50, 100), (150, 120), (250, 140)):
        assert px(out, x, y) == label_color("kp")
    assert px(out, 100, 110) == GREY


def test_ellipse_from_centre_and_corner(blank: Image.Image):
    # CVAT: [cx, cy, rx point x, ry point y] with the right-top corner of the bounding box.
    out = draw_shapes(blank, [Shape("ball", "ellipse", [160, 120, 220, 90])])
    color = label_color("ball")
    assert near(out, 220, 120, color)  # right end: cx + rx
    assert near(out, 100, 120, color)  # left end
    assert near(out, 160, 90, color)  # top: cy - ry
    assert near(out, 160, 150, color)  # bottom
    assert px(out, 160, 120) == GREY
    assert px(out, 215, 95) == GREY, "the corner of the box is outside the ellipse"


def test_rotated_rectangle_turns_about_its_centre(blank: Image.Image):
    shape = Shape("car", "rectangle", [120, 100, 200, 140], raw={"rotation": 90})
    out = draw_shapes(blank, [shape])
    color = label_color("car")
    # Turned by 90 degrees the 80x40 box is 40x80 about (160, 120): edges at y=80 and x=180.
    assert near(out, 160, 80, color) and near(out, 180, 120, color)
    assert not near(out, 200, 120, color, r=2)


def test_cuboid_draws_front_back_and_joining_edges(blank: Image.Image):
    # front face x 80..160, y 80..160; back face shifted (+40, -30)
    pts = [80, 80, 80, 160, 160, 80, 160, 160, 200, 50, 200, 130, 120, 50, 120, 130]
    out = draw_shapes(blank, [Shape("box", "cuboid", [float(v) for v in pts])])
    color = label_color("box")
    assert near(out, 80, 120, color)  # front-left vertical 0-1
    assert near(out, 120, 160, color)  # front bottom 1-3
    assert near(out, 200, 90, color)  # back-right vertical 4-5
    assert near(out, 160, 50, color)  # back top 6-4
    assert near(out, 180, 65, color)  # top right 2-4
    assert px(out, 110, 110) == GREY


def _disc(size: int) -> np.ndarray:
    yy, xx = np.mgrid[0:size, 0:size]
    c = (size - 1) / 2
    return ((yy - c) ** 2 + (xx - c) ** 2 <= (size / 2 - 2) ** 2).astype(int)


def test_mask_bitmap_is_tinted_inside_and_untouched_outside(blank: Image.Image):
    disc = _disc(60)
    box = [100.0, 80.0, 159.0, 139.0]
    shape = Shape("blob", "mask", [float(v) for v in disc.ravel()] + box, encoding=MASK_BITMAP)
    out = draw_shapes(blank, [shape])
    color = np.array(label_color("blob"))
    tinted = np.array(px(out, 130, 110))
    want = np.array(GREY) * (1 - MASK_ALPHA / 255) + color * (MASK_ALPHA / 255)
    assert np.abs(tinted - want).max() <= 2, "the interior is a semi-transparent fill"
    assert px(out, 101, 81) == GREY, "a corner of the box outside the disc is untouched"
    assert px(out, 170, 110) == GREY and px(out, 90, 110) == GREY
    assert near(out, 130, 82, tuple(int(v) for v in color)), "the edge is solid"


def test_mask_rle_draws_the_same_pixels_as_the_bitmap(blank: Image.Image):
    disc = _disc(60)
    box = [100.0, 80.0, 159.0, 139.0]
    bitmap = Shape("blob", "mask", [float(v) for v in disc.ravel()] + box, encoding=MASK_BITMAP)
    rle_points = [float(v) for v in bitmap_to_rle(disc.ravel().tolist())] + box
    rle = Shape("blob", "mask", rle_points, encoding=MASK_RLE)
    a, b = np.asarray(draw_shapes(blank, [bitmap])), np.asarray(draw_shapes(blank, [rle]))
    assert (a != np.array(GREY)).any()
    assert (a == b).all()


def test_mask_partly_outside_the_image_is_clipped(blank: Image.Image):
    disc = _disc(80)
    box = [280.0, 200.0, 359.0, 279.0]
    shape = Shape("blob", "mask", [float(v) for v in disc.ravel()] + box, encoding=MASK_BITMAP)
    out = draw_shapes(blank, [shape])
    assert px(out, 315, 235) != GREY


def test_skeleton_elements_are_dots(blank: Image.Image):
    elements = [Shape("head", "points", [100, 60]), Shape("hand", "points", [140, 130])]
    out = draw_shapes(blank, [Shape("person", "skeleton", [], 0.8, elements=elements)])
    color = label_color("person")
    assert px(out, 100, 60) == color and px(out, 140, 130) == color


def test_tag_and_title_are_written_at_the_top(blank: Image.Image):
    out = draw_shapes(blank, [Shape("indoor", "tag", [], 0.99)], title="my title")
    top = np.asarray(out)[:60, :].reshape(-1, 3)
    assert (top == label_color("indoor")).all(axis=1).sum() > 100
    assert (top == (40, 40, 40)).all(axis=1).sum() > 100, "the title's dark box"
    assert px(out, W - 2, 2) == GREY


def test_malformed_shapes_are_skipped_and_the_good_ones_still_drawn(blank: Image.Image):
    bad = [
        Shape("bad", "rectangle", [1, 2, 3]),
        Shape("bad", "rectangle", [1, 2, 3, 4, 5, 6]),
        Shape("bad", "cuboid", [1, 2, 3, 4]),
        Shape("bad", "ellipse", [10, 10, 20]),
        Shape("bad", "polygon", [float("nan"), 1, 2, 3]),
        Shape("bad", "polygon", [1, 2, 3]),
        Shape("bad", "points", []),
        Shape("bad", "mask", [1, 0, 1], encoding=MASK_BITMAP),
        Shape("bad", "mask", [1, 1, 10, 10, 5, 5], encoding=MASK_BITMAP),  # box corners swapped
        Shape("bad", "mask", [1, 1, 1, 1], encoding=""),
        Shape("bad", "skeleton", [], elements=[Shape("x", "points", [])]),
        Shape("bad", "hexagon", [1, 2, 3, 4]),
        Shape("bad", "rectangle", ["a", "b", "c", "d"]),  # type: ignore[list-item]
        Shape("bad", "polyline", [None, 2]),  # type: ignore[list-item]
    ]
    out = draw_shapes(blank, bad)
    assert (np.asarray(out) == np.asarray(blank)).all(), "nothing of a malformed shape is drawn"
    good = Shape("car", "rectangle", [100, 60, 200, 160])
    out = draw_shapes(blank, [*bad, good])
    assert near(out, 200, 110, label_color("car"))


def test_huge_coordinates_draw_quickly(blank: Image.Image):
    started = time.monotonic()
    out = draw_shapes(
        blank,
        [
            Shape("far", "rectangle", [10, 10, 1e12, 1e12]),
            Shape("far", "mask", [1, 2, 3, 0, 0, 1e9, 1e9], encoding=MASK_BITMAP),
        ],
        [Shape("far", "polygon", [10, 10, 1e15, 10, 10, 1e15])],
    )
    assert time.monotonic() - started < 5
    left_edge = [px(out, x, y) for y in range(100, 140) for x in (9, 10, 11)]
    assert label_color("far") in left_edge and EXPECTED_COLOR in left_edge


@pytest.mark.parametrize("mode", ["RGB", "RGBA", "L", "P", "I;16", "F", "CMYK"])
def test_any_image_mode_becomes_rgb_of_the_same_size(mode: str):
    img = Image.new("RGB", (64, 48), (200, 50, 50)).convert(mode)
    out = draw_shapes(img, [Shape("car", "rectangle", [5, 5, 40, 40])])
    assert out.mode == "RGB" and out.size == (64, 48)
    assert near(out, 40, 20, label_color("car"))


def test_bytes_and_path_inputs(blank: Image.Image, tmp_path: Path):
    buffer = io.BytesIO()
    blank.save(buffer, format="PNG")
    path = tmp_path / "in.png"
    path.write_bytes(buffer.getvalue())
    shapes = [Shape("car", "rectangle", [100, 60, 200, 160])]
    from_bytes = draw_shapes(buffer.getvalue(), shapes)
    from_path = draw_shapes(path, shapes)
    assert (np.asarray(from_bytes) == np.asarray(from_path)).all()
    assert near(from_path, 200, 110, label_color("car"))


def test_expected_to_shapes_turns_mask_boxes_into_rectangles():
    shapes = expected_to_shapes(
        [
            Expected("face", "rectangle", [176, 65, 272, 161]),
            Expected(None, "mask", [10, 20, 30, 40]),
            Expected("road", "polygon", [1, 2, 3, 4, 5, 6]),
        ]
    )
    assert [(s.label, s.type, s.points) for s in shapes] == [
        ("face", "rectangle", [176, 65, 272, 161]),
        ("", "rectangle", [10, 20, 30, 40]),
        ("road", "polygon", [1, 2, 3, 4, 5, 6]),
    ]


def test_label_colours_are_stable_and_never_the_expected_green():
    assert label_color("face") == label_color("face")
    assert EXPECTED_COLOR not in PALETTE
    assert len({label_color(f"label{i}") for i in range(50)}) > len(PALETTE) // 2


def test_save_png_writes_a_readable_png(blank: Image.Image, tmp_path: Path):
    target = save_png(draw_shapes(blank, []), tmp_path / "sub" / "out.png")
    with Image.open(target) as img:
        assert img.format == "PNG" and img.size == (W, H)

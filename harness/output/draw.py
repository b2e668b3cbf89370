"""Shapes drawn on the image they came from, so a person sees at a glance what a function found.

Returned shapes get one colour per label (stable across images: the colour comes from the
label's name) with the label and confidence written beside them; expected shapes are dashed
green outlines. A malformed shape is skipped, never raised: this draws broken answers too.
"""

from __future__ import annotations

import io
import math
import zlib
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from harness.cvat.shapes import Shape

if TYPE_CHECKING:
    from harness.suite.config import Expected

RGB = tuple[int, int, int]
Point = tuple[float, float]
Box = tuple[float, float, float, float]
Font = ImageFont.FreeTypeFont | ImageFont.ImageFont

PALETTE: tuple[RGB, ...] = (
    (230, 25, 75),
    (0, 130, 200),
    (245, 130, 48),
    (145, 30, 180),
    (240, 50, 230),
    (255, 200, 0),
    (0, 128, 128),
    (170, 110, 40),
    (70, 220, 240),
    (128, 0, 0),
    (0, 0, 160),
    (250, 150, 190),
)
"""Label colours; green is left out, it is the expected shapes' colour."""
EXPECTED_COLOR: RGB = (0, 230, 110)
MASK_ALPHA = 110
"""Opacity (of 255) of a mask's fill: the image stays visible under it."""
CUBOID_EDGES = (
    (0, 1),
    (2, 3),
    (4, 5),
    (6, 7),
    (0, 2),
    (0, 6),
    (2, 4),
    (6, 4),
    (1, 3),
    (1, 7),
    (3, 5),
    (7, 5),
)
"""cvat-canvas's cuboid (``cuboid.ts``): vertical edges 0-1, 2-3 in front and 4-5, 6-7 at the
back; the top joins 0, 2, 4, 6 and the bottom 1, 3, 5, 7."""
MASK_AREA_SLACK = 1 << 20
"""A mask whose box is larger than four images plus this (in pixels) is outlined, not filled:
its bitmap would be mostly off the image and could exhaust memory."""


def label_color(label: str) -> RGB:
    """The colour of a label's shapes, the same in every image of a run."""
    return PALETTE[zlib.crc32(label.encode("utf-8")) % len(PALETTE)]


def load_image(image: bytes | str | Path | Image.Image) -> Image.Image:
    """Any image PIL reads, as 8-bit RGB (16-bit and float images are scaled to 0-255)."""
    if isinstance(image, Image.Image):
        img = image.copy()
    else:
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        img = Image.open(io.BytesIO(data))
        img.load()
    if img.mode in ("I", "F") or img.mode.startswith("I;"):
        arr = np.asarray(img, dtype=np.float64)
        low, high = float(arr.min()), float(arr.max())
        scaled = (arr - low) * (255.0 / (high - low)) if high > low else arr * 0
        img = Image.fromarray(scaled.astype(np.uint8), "L")
    if img.mode in ("RGBA", "LA", "PA") or (img.mode == "P" and "transparency" in img.info):
        rgba = img.convert("RGBA")
        backdrop = Image.new("RGBA", rgba.size, (255, 255, 255, 255))
        return Image.alpha_composite(backdrop, rgba).convert("RGB")
    return img.convert("RGB")


def expected_to_shapes(expected: Sequence[Expected]) -> list[Shape]:
    """cvat-fn.yaml's expectations as shapes. An expected mask is its box there
    (``[xtl, ytl, xbr, ybr]``, matched by IoU of boxes) or its outline, so it is drawn as a
    rectangle or a polygon; a skeleton as its elements."""
    shapes = []
    for e in expected:
        shape = e.shape()
        if shape.type == "mask":
            outline = len(shape.points) > 4
            shape.type = "polygon" if outline else "rectangle"
            shape.points = shape.points if outline else shape.points[:4]
        shapes.append(shape)
    return shapes


def save_png(img: Image.Image, path: str | Path) -> Path:
    """Write ``img`` as PNG (parent directories made); returns the path."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    img.save(target, format="PNG")
    return target


def png_bytes(img: Image.Image) -> bytes:
    buffer = io.BytesIO()
    img.save(buffer, format="PNG")
    return buffer.getvalue()


def font(size: int) -> Font:
    """DejaVu Sans if the system has it (Debian's fonts-dejavu-core), else PIL's own font."""
    for name in ("DejaVuSans.ttf", "/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf"):
        try:
            return ImageFont.truetype(name, size)
        except OSError:
            continue
    try:
        return ImageFont.load_default(size)
    except TypeError:  # Pillow < 10.1: a fixed-size bitmap font
        return ImageFont.load_default()


def _box(pts: Sequence[Point], margin: float = 0.0) -> Box:
    xs, ys = [x for x, _ in pts], [y for _, y in pts]
    return (min(xs) - margin, min(ys) - margin, max(xs) + margin, max(ys) + margin)


def text_color(background: RGB) -> RGB:
    r, g, b = background
    return (0, 0, 0) if 0.299 * r + 0.587 * g + 0.114 * b > 150 else (255, 255, 255)


class _Canvas:
    """One image being drawn on: the scale of lines and text, and the pending captions."""

    def __init__(self, img: Image.Image) -> None:
        self.img = img.convert("RGBA")
        self.width, self.height = self.img.size
        side = min(self.width, self.height)
        self.line = max(2, round(side / 200))
        self.radius = max(3, round(side / 120))
        # In proportion to the image, so text stays readable when a large image is shown small.
        self.font = font(max(11, round(side / 32)))
        self.small = font(max(10, round(side / 40)))
        self.limit = 20.0 * max(self.width, self.height, 1)
        self.max_mask_area = 4 * self.width * self.height + MASK_AREA_SLACK
        self.draw = ImageDraw.Draw(self.img)
        self.captions: list[tuple[Point, str, RGB, bool]] = []

    # -- geometry -------------------------------------------------------------------------

    def pt(self, x: float, y: float) -> Point:
        if not (math.isfinite(x) and math.isfinite(y)):
            raise ValueError("a coordinate is not a finite number")
        lim = self.limit
        return (min(max(x, -lim), lim), min(max(y, -lim), lim))

    def pairs(self, points: Sequence[float], count: int | None = None) -> list[Point]:
        if len(points) % 2 or (count is not None and len(points) != 2 * count):
            raise ValueError("wrong number of coordinates")
        return [self.pt(points[i], points[i + 1]) for i in range(0, len(points), 2)]

    # -- primitives -----------------------------------------------------------------------

    def lines(self, pts: Sequence[Point], color: RGB, closed: bool, dashed: bool) -> None:
        if len(pts) < 2:
            return
        seq = [self.pt(x, y) for x, y in pts] + ([self.pt(*pts[0])] if closed else [])
        if not dashed:
            self.draw.line(seq, fill=color, width=self.line, joint="curve")
            return
        dash, gap = 4.0 * self.line + 4, 2.0 * self.line + 3
        period, offset = dash + gap, 0.0
        for (ax, ay), (bx, by) in zip(seq, seq[1:], strict=False):
            length = math.hypot(bx - ax, by - ay)
            t = 0.0
            while t < length:
                phase = (offset + t) % period
                if phase < dash:
                    end = min(length, t + dash - phase)
                    f0, f1 = t / length, end / length
                    self.draw.line(
                        [
                            (ax + (bx - ax) * f0, ay + (by - ay) * f0),
                            (ax + (bx - ax) * f1, ay + (by - ay) * f1),
                        ],
                        fill=color,
                        width=self.line,
                    )
                    t = end
                else:
                    t += period - phase
            offset = (offset + length) % period

    def dots(self, pts: Iterable[Point], color: RGB, hollow: bool) -> None:
        r = self.radius
        for x, y in pts:
            box = (x - r, y - r, x + r, y + r)
            if hollow:
                self.draw.ellipse(box, outline=color, width=max(1, self.line - 1))
            else:
                self.draw.ellipse(box, fill=color, outline=(255, 255, 255))

    def caption(self, at: Point, text: str, color: RGB, above: bool = True) -> None:
        self.captions.append((at, text, color, above))

    def text_box(self, x: float, y: float, text: str, color: RGB, fnt: Font) -> float:
        """``text`` on a box of ``color`` with its top-left at (x, y), kept inside the image
        horizontally; returns the box's height."""
        left, top, right, bottom = self.draw.textbbox((0, 0), text, font=fnt)
        pad = max(2, self.line // 2)
        w, h = right - left + 2 * pad, bottom - top + 2 * pad
        x = min(max(0.0, x), max(0.0, self.width - w))
        self.draw.rectangle((x, y, x + w, y + h), fill=color)
        self.draw.text((x + pad - left, y + pad - top), text, fill=text_color(color), font=fnt)
        return float(h)

    def flush_captions(self) -> None:
        for (x, y), text, color, above in self.captions:
            _, top, _, bottom = self.draw.textbbox((0, 0), text, font=self.small)
            h = bottom - top + 4
            flip = y - h < 0 if above else y + h > self.height
            ty = y - h if above != flip else y
            self.text_box(x, min(max(0.0, ty), max(0.0, self.height - h)), text, color, self.small)
        self.captions.clear()

    # -- shapes ---------------------------------------------------------------------------

    def rotated(self, shape: Shape, corners: list[Point]) -> list[Point]:
        """Corners turned by the shape's ``rotation`` (degrees, clockwise, about the centre),
        which CVAT takes for rectangles and ellipses."""
        raw = shape.raw if isinstance(shape.raw, dict) else {}
        angle = raw.get("rotation")
        if not isinstance(angle, int | float) or isinstance(angle, bool) or not angle:
            return corners
        if not math.isfinite(angle):
            return corners
        cx = sum(p[0] for p in corners) / len(corners)
        cy = sum(p[1] for p in corners) / len(corners)
        c, s = math.cos(math.radians(angle)), math.sin(math.radians(angle))
        return [
            (cx + (x - cx) * c - (y - cy) * s, cy + (x - cx) * s + (y - cy) * c) for x, y in corners
        ]

    def outline(self, shape: Shape, color: RGB, dashed: bool) -> Box:
        """Draw one shape's outline; returns the box around what was drawn (for captions)."""
        t, p = shape.type, shape.points
        if t == "rectangle":
            (x1, y1), (x2, y2) = self.pairs(p, 2)
            corners = [(x1, y1), (x2, y1), (x2, y2), (x1, y2)]
            pts = self.rotated(shape, corners)
            self.lines(pts, color, closed=True, dashed=dashed)
            return _box(pts)
        if t in ("polygon", "polyline"):
            pts = self.pairs(p)
            self.lines(pts, color, closed=t == "polygon", dashed=dashed)
            if len(pts) == 1:
                self.dots(pts, color, hollow=dashed)
            return _box(pts)
        if t == "points":
            pts = self.pairs(p)
            self.dots(pts, color, hollow=dashed)
            return _box(pts, self.radius)
        if t == "ellipse":
            self.pairs(p, 2)
            (xtl, ytl), (xbr, ybr) = self.pairs(shape.bbox(), 2)
            cx, cy, rx, ry = (xtl + xbr) / 2, (ytl + ybr) / 2, (xbr - xtl) / 2, (ybr - ytl) / 2
            steps = 72
            ring = [
                (
                    cx + rx * math.cos(2 * math.pi * i / steps),
                    cy + ry * math.sin(2 * math.pi * i / steps),
                )
                for i in range(steps)
            ]
            ring = self.rotated(shape, ring)
            self.lines(ring, color, closed=True, dashed=dashed)
            return _box(ring)
        if t == "cuboid":
            v = self.pairs(p, 8)
            for a, b in CUBOID_EDGES:
                self.lines([v[a], v[b]], color, closed=False, dashed=dashed)
            return _box(v)
        if t == "skeleton":
            placed: list[Point] = []
            for element in shape.elements:
                try:
                    pts = self.pairs(element.points[:2], 1)
                except (ValueError, TypeError):
                    continue
                self.dots(pts, color, hollow=dashed)
                if element.label and not dashed:
                    x, y = pts[0]
                    self.caption((x + self.radius, y + self.radius), element.label, color, False)
                placed.extend(pts)
            if not placed:
                raise ValueError("a skeleton without drawable elements")
            return _box(placed, self.radius)
        if t == "mask":
            (xtl, ytl), (xbr, ybr) = self.pairs(shape.bbox(), 2)
            if xbr < xtl or ybr < ytl:
                raise ValueError("a mask box with its corners swapped")
            if (xbr - xtl + 1) * (ybr - ytl + 1) > self.max_mask_area or dashed:
                corners = [(xtl, ytl), (xbr, ytl), (xbr, ybr), (xtl, ybr)]
                self.lines(corners, color, closed=True, dashed=True)
            else:
                self.fill_mask(shape, color)
            return (xtl, ytl, xbr, ybr)
        raise ValueError(f"no drawing for type {t!r}")

    def fill_mask(self, shape: Shape, color: RGB) -> None:
        rows = shape.mask()
        if not rows:
            return
        bits = np.asarray(rows, dtype=bool)
        xtl, ytl = (int(v) for v in shape.bbox()[:2])
        h, w = bits.shape
        x0, y0 = max(0, xtl), max(0, ytl)
        x1, y1 = min(self.width, xtl + w), min(self.height, ytl + h)
        if x0 >= x1 or y0 >= y1:
            return
        inside = bits[y0 - ytl : y1 - ytl, x0 - xtl : x1 - xtl]
        padded = np.pad(inside, 1)
        core = (
            padded[1:-1, 1:-1]
            & padded[:-2, 1:-1]
            & padded[2:, 1:-1]
            & padded[1:-1, :-2]
            & padded[1:-1, 2:]
        )
        edge = inside & ~core
        layer = np.zeros((y1 - y0, x1 - x0, 4), dtype=np.uint8)
        layer[inside] = (*color, MASK_ALPHA)
        layer[edge] = (*color, 255)
        overlay = Image.new("RGBA", self.img.size, (0, 0, 0, 0))
        overlay.paste(Image.fromarray(layer, "RGBA"), (x0, y0))
        self.img.alpha_composite(overlay)
        self.draw = ImageDraw.Draw(self.img)

    # -- text at the edges ----------------------------------------------------------------

    def header(self, lines: Sequence[tuple[str, RGB]]) -> None:
        y = 0.0
        for text, color in lines:
            y += self.text_box(0, y, text, color, self.font) + 1

    def legend(self, entries: Sequence[tuple[str, RGB, bool]]) -> None:
        """A strip at the bottom: a line sample per entry (dashed for expected) and its name,
        left to right, wrapped to the image's width."""
        if not entries:
            return
        sample, gap, pad = max(16, 5 * self.line), max(10, 4 * self.line), max(4, 2 * self.line)
        boxes = [self.draw.textbbox((0, 0), name, font=self.small) for name, _, _ in entries]
        row = max(b[3] - b[1] for b in boxes) + 6
        placed: list[tuple[float, int]] = []
        x, line = 4.0, 0
        for box in boxes:
            width = sample + pad + box[2] - box[0]
            if x > 4 and x + width > self.width - 4:
                x, line = 4.0, line + 1
            placed.append((x, line))
            x += width + gap
        top = self.height - row * (line + 1) - 2
        right = self.width if line else min(self.width, x - gap + 4)
        backdrop = Image.new("RGBA", self.img.size, (0, 0, 0, 0))
        ImageDraw.Draw(backdrop).rectangle((0, top, right, self.height), fill=(0, 0, 0, 150))
        self.img.alpha_composite(backdrop)
        self.draw = ImageDraw.Draw(self.img)
        for (name, color, dashed), box, (x, line) in zip(entries, boxes, placed, strict=True):
            y = top + 1 + line * row + row / 2
            self.lines([(x, y), (x + sample, y)], color, closed=False, dashed=dashed)
            text_at = (x + sample + pad, y - (box[3] + box[1]) / 2)
            self.draw.text(text_at, name, fill=(255, 255, 255), font=self.small)


def shape_caption(shape: Shape) -> str:
    name = shape.label or shape.type
    if shape.confidence is not None:
        return f"{name} {shape.confidence:.2f}"
    return name


def draw_shapes(
    image: bytes | Path | Image.Image,
    shapes: Sequence[Shape],
    expected: Sequence[Shape] = (),
    *,
    title: str | None = None,
) -> Image.Image:
    """A copy of ``image`` (RGB, same size) with ``expected`` dashed in green, ``shapes`` in
    their labels' colours, tags and ``title`` at the top and a legend at the bottom-left."""
    canvas = _Canvas(load_image(image))
    header: list[tuple[str, RGB]] = []
    if title:
        header.append((title, (40, 40, 40)))
    legend: list[tuple[str, RGB, bool]] = [("expected", EXPECTED_COLOR, True)] if expected else []

    # Masks first, so outlines stay on top of their fill; expected last, so its dashes show
    # over a returned shape that matches it exactly.
    ordered = sorted(shapes, key=lambda s: s.type != "mask")
    todo = [(s, False) for s in ordered] + [(s, True) for s in expected]
    for shape, is_expected in todo:
        try:
            if shape.type.lower() == "tag":
                color = EXPECTED_COLOR if is_expected else label_color(shape.label)
                prefix = "expected tag" if is_expected else "tag"
                header.append((f"{prefix}: {shape_caption(shape)}", color))
                continue
            if is_expected:
                x0, _, _, y1 = canvas.outline(shape, EXPECTED_COLOR, dashed=True)
                if shape.label:
                    canvas.caption((x0, y1 + canvas.line), shape.label, EXPECTED_COLOR, False)
                continue
            color = label_color(shape.label)
            x0, y0, _, _ = canvas.outline(shape, color, dashed=False)
            canvas.caption((x0, y0), shape_caption(shape), color)
        except Exception:  # a malformed shape is skipped, whatever is wrong with it
            continue
        entry = (shape.label or shape.type, color, False)
        if entry not in legend:
            legend.append(entry)
    canvas.flush_captions()
    canvas.header(header)
    canvas.legend(legend)
    return canvas.img.convert("RGB")

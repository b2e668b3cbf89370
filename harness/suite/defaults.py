"""Fixtures for a function without cvat-fn.yaml: generated images, so every check but
accuracy (which needs expectations) still runs."""

from __future__ import annotations

from pathlib import Path

from PIL import Image, ImageDraw

from harness.suite.config import Fixture


def _scene(size: tuple[int, int], shift: tuple[int, int] = (0, 0)) -> Image.Image:
    """A textured picture with a few objects, so trackers and re-id have something to follow."""
    width, height = size
    img = Image.new("RGB", size)
    draw = ImageDraw.Draw(img)
    for y in range(0, height, 8):
        draw.rectangle([0, y, width, y + 7], fill=(40 + y % 90, 70 + (y * 3) % 60, 110))
    dx, dy = shift
    draw.ellipse([120 + dx, 100 + dy, 220 + dx, 200 + dy], fill=(220, 60, 40), outline=(0, 0, 0))
    draw.rectangle([330 + dx, 180 + dy, 430 + dx, 300 + dy], fill=(240, 220, 40))
    draw.polygon(
        [(480 + dx, 80 + dy), (560 + dx, 200 + dy), (440 + dx, 200 + dy)], fill=(40, 200, 90)
    )
    return img


def default_fixtures(kind: str, directory: Path) -> list[Fixture]:
    """Write the generated images into ``directory`` and describe the requests to send."""
    directory.mkdir(parents=True, exist_ok=True)
    first, second = directory / "scene0.png", directory / "scene1.png"
    _scene((640, 480)).save(first)
    _scene((640, 480), shift=(12, 8)).save(second)
    if kind == "detector":
        return [Fixture(name="generated-scene", image=first, threshold=0.5)]
    if kind == "interactor":
        return [Fixture(name="generated-scene", image=first, pos_points=[[170.0, 150.0]])]
    if kind == "tracker":
        box = [[115.0, 95.0, 225.0, 205.0]]
        return [Fixture(name="generated-scene", image=first, next_image=second, shapes=box)]
    if kind == "reid":
        boxes = [[115.0, 95.0, 225.0, 205.0], [325.0, 175.0, 435.0, 305.0]]
        moved = [[b[0] + 12, b[1] + 8, b[2] + 12, b[3] + 8] for b in boxes]
        return [
            Fixture(name="generated-scene", image=first, image1=second, boxes0=boxes, boxes1=moved)
        ]
    raise ValueError(f"unknown function kind {kind!r}")

"""Build fixtures/eval: a small face dataset with exact ground truth, in two CVAT export layouts.

The astronaut's face (scikit-image's ``astronaut.png``, public domain) is pasted at known
places and scales onto public-domain / CC0 photos from scikit-image, so every face box is known
exactly; a few are made harder (small, mirrored, darkened, half covered) and two images hold
no face. Each image is written once per layout, exactly as CVAT 2.x exports a task:

- ``faces_cvat/``: "CVAT for images 1.1" (``annotations.xml`` + ``images/NAME``), as
  ``cvat/apps/dataset_manager/formats/cvat.py`` (``dump_as_cvat_annotation``, ``dump_media_files``)
  writes it: ``<box>`` with ``label source occluded xtl ytl xbr ybr z_order``, two decimals.
- ``faces_coco/``: "COCO 1.0" (``annotations/instances_default.json`` + ``images/default/NAME``),
  as ``formats/coco.py`` writes it through Datumaro's ``coco_instances`` exporter
  (``merge_images=False``): bbox ``[x, y, w, h]``, ``area`` w*h, empty ``segmentation``,
  ``attributes`` ``{"occluded", "rotation"}``, category ids from 1.

A second label, ``patch`` (the astronaut's mission patch), is annotated but no face detector
returns it: it shows how labels found on one side only are reported.

scikit-image is needed only to run this script:
``pip install scikit-image && python scripts/make_eval_dataset.py``.
"""

from __future__ import annotations

import importlib.util
import io
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from xml.sax.saxutils import XMLGenerator

from PIL import Image, ImageDraw, ImageEnhance, ImageFilter, ImageOps

ROOT = Path(__file__).resolve().parent.parent
OUT = ROOT / "fixtures" / "eval"
CANVAS = (640, 480)
# The face in astronaut.png (the sample face detector's golden box, checked by eye), and the
# crop pasted: the face with MARGIN px around it, so the cascade sees some context.
FACE = (176, 65, 272, 161)
MARGIN = 32
PATCH = (133, 346, 211, 424)
LABELS = (("face", "#fa3253"), ("patch", "#33ddff"))


@dataclass
class Paste:
    what: str  # "face" or "patch"
    at: tuple[int, int]
    scale: float = 1.0
    mirror: bool = False
    darken: float = 1.0
    cover: bool = False  # the lower half of the face hidden by a block of the background


# (image name, background file, background crop box or None for the whole photo, pastes)
PLAN: list[tuple[str, str, tuple[int, int, int, int] | None, list[Paste]]] = [
    ("astronaut.jpg", "astronaut.png", None, []),
    ("coffee_face.jpg", "coffee.png", None, [Paste("face", (70, 90))]),
    ("cat_face.jpg", "chelsea.png", None, [Paste("face", (420, 40), 0.8)]),
    (
        "rocket_two.jpg",
        "rocket.jpg",
        None,
        [Paste("face", (40, 60), 0.7), Paste("face", (380, 200), 1.2)],
    ),
    (
        "hubble_small.jpg",
        "hubble_deep_field.jpg",
        (0, 0, 800, 600),
        [Paste("face", (300, 200), 0.5)],
    ),
    ("brick_mirror.jpg", "brick.png", None, [Paste("face", (200, 120), 1.0, mirror=True)]),
    (
        "grass_tiny.jpg",
        "grass.png",
        None,
        [Paste("face", (100, 300), 0.3), Paste("face", (400, 80), 0.9)],
    ),
    ("gravel_covered.jpg", "gravel.png", None, [Paste("face", (240, 150), 1.1, cover=True)]),
    ("page_dark.jpg", "page.png", None, [Paste("face", (330, 100), 1.0, darken=0.35)]),
    ("coffee_empty.jpg", "coffee.png", (100, 0, 500, 300), []),
    ("cat_empty.jpg", "chelsea.png", None, []),
    (
        "hubble_patch.jpg",
        "hubble_deep_field.jpg",
        (200, 200, 1000, 800),
        [Paste("patch", (60, 300), 1.0), Paste("face", (300, 60), 1.4)],
    ),
]


def source_dir() -> Path:
    spec = importlib.util.find_spec("skimage")
    if spec is None or not spec.submodule_search_locations:
        raise SystemExit("scikit-image is not installed: pip install scikit-image")
    return Path(next(iter(spec.submodule_search_locations))) / "data"


def background(src: Path, name: str, crop: tuple[int, int, int, int] | None) -> Image.Image:
    img = Image.open(src / name).convert("RGB")
    if crop:
        img = img.crop(crop)
    return ImageOps.fit(img, CANVAS, Image.Resampling.LANCZOS)


def feathered(size: tuple[int, int]) -> Image.Image:
    """An alpha mask: opaque in the middle, fading over the margin, so no hard edges show."""
    mask = Image.new("L", size, 0)
    inset = max(2, MARGIN * size[0] // (FACE[2] - FACE[0] + 2 * MARGIN) // 2)
    ImageDraw.Draw(mask).ellipse((inset, inset, size[0] - inset, size[1] - inset), fill=255)
    return mask.filter(ImageFilter.GaussianBlur(inset / 2))


def paste(canvas: Image.Image, astronaut: Image.Image, p: Paste) -> tuple[str, list[float], bool]:
    """Paste one object; its exact box (xtl, ytl, xbr, ybr) on the canvas."""
    if p.what == "face":
        x0, y0, x1, y1 = FACE[0] - MARGIN, FACE[1] - MARGIN, FACE[2] + MARGIN, FACE[3] + MARGIN
        inner = (MARGIN, MARGIN, MARGIN + FACE[2] - FACE[0], MARGIN + FACE[3] - FACE[1])
    else:
        x0, y0, x1, y1 = PATCH
        inner = (0, 0, x1 - x0, y1 - y0)
    piece = astronaut.crop((x0, y0, x1, y1))
    size = (round(piece.width * p.scale), round(piece.height * p.scale))
    piece = piece.resize(size, Image.Resampling.LANCZOS)
    if p.mirror:
        piece = ImageOps.mirror(piece)
    if p.darken != 1.0:
        piece = ImageEnhance.Brightness(piece).enhance(p.darken)
    mask = feathered(size) if p.what == "face" else Image.new("L", size, 255)
    canvas.paste(piece, p.at, mask)
    box = [p.at[0] + inner[0] * p.scale, p.at[1] + inner[1] * p.scale]
    box += [p.at[0] + inner[2] * p.scale, p.at[1] + inner[3] * p.scale]
    if p.cover:
        top = round((box[1] + box[3]) / 2)
        block = canvas.crop((0, 0, round(box[2] - box[0]) + 8, round(box[3]) - top + 4))
        canvas.paste(block, (round(box[0]) - 4, top))
    return p.what, box, p.cover


def build() -> list[dict]:
    src = source_dir()
    astronaut = Image.open(src / "astronaut.png").convert("RGB")
    images = []
    for name, bg_name, crop, pastes in PLAN:
        if bg_name == "astronaut.png" and not pastes:
            canvas = astronaut.copy()
            shapes = [("face", [float(v) for v in FACE], False)]
            shapes.append(("patch", [float(v) for v in PATCH], False))
        else:
            canvas = background(src, bg_name, crop)
            shapes = [paste(canvas, astronaut, p) for p in pastes]
        buffer = io.BytesIO()
        canvas.save(buffer, "JPEG", quality=88, optimize=True)
        images.append(
            {"name": name, "size": canvas.size, "data": buffer.getvalue(), "shapes": shapes}
        )
    return images


def write_cvat(images: list[dict], out: Path) -> None:
    """annotations.xml as CVAT's dump_as_cvat_annotation writes a task, plus images/NAME."""
    (out / "images").mkdir(parents=True)
    with open(out / "annotations.xml", "wb") as f:
        xml = XMLGenerator(f, "utf-8")
        level = 0

        def indent() -> None:
            xml.ignorableWhitespace("\n" + "  " * level)

        def element(tag: str, text: str) -> None:
            indent()
            xml.startElement(tag, {})
            xml.characters(text)
            xml.endElement(tag)

        def open_(tag: str, attrs: dict[str, str] | None = None) -> None:
            nonlocal level
            indent()
            xml.startElement(tag, attrs or {})
            level += 1

        def close(tag: str) -> None:
            nonlocal level
            level -= 1
            indent()
            xml.endElement(tag)

        xml.startDocument()
        xml.startElement("annotations", {})
        level = 1
        element("version", "1.1")
        open_("meta")
        open_("task")
        for tag, text in (
            ("id", "1"), ("name", "faces"), ("size", str(len(images))), ("mode", "annotation"),
            ("overlap", "0"), ("bugtracker", ""), ("created", "2025-01-01 00:00:00.000000+00:00"),
            ("updated", "2025-01-01 00:00:00.000000+00:00"), ("subset", "default"),
            ("start_frame", "0"), ("stop_frame", str(len(images) - 1)), ("frame_filter", ""),
        ):  # fmt: skip
            element(tag, text)
        open_("segments")
        open_("segment")
        element("id", "1")
        element("start", "0")
        element("stop", str(len(images) - 1))
        element("url", "http://localhost:8080/api/jobs/1")
        close("segment")
        close("segments")
        open_("owner")
        element("username", "annotator")
        element("email", "")
        close("owner")
        element("assignee", "")
        open_("labels")
        for label, color in LABELS:
            open_("label")
            element("name", label)
            element("color", color)
            element("type", "rectangle")
            element("attributes", "")
            close("label")
        close("labels")
        close("task")
        element("dumped", "2025-01-01 00:00:00.000000+00:00")
        close("meta")
        for frame, image in enumerate(images):
            width, height = image["size"]
            attrs = {"id": str(frame), "name": image["name"], "width": str(width)}
            attrs["height"] = str(height)
            open_("image", attrs)
            for label, box, occluded in image["shapes"]:
                shape = {"label": label, "source": "manual", "occluded": str(int(occluded))}
                shape.update(
                    {k: f"{v:.2f}" for k, v in zip(("xtl", "ytl", "xbr", "ybr"), box, strict=True)}
                )
                shape["z_order"] = "0"
                open_("box", shape)
                close("box")
            close("image")
        level = 0
        indent()
        xml.endElement("annotations")
        xml.ignorableWhitespace("\n")
        xml.endDocument()
    for image in images:
        (out / "images" / image["name"]).write_bytes(image["data"])


def write_coco(images: list[dict], out: Path) -> None:
    """instances_default.json as Datumaro's coco_instances exporter writes CVAT's task."""
    (out / "annotations").mkdir(parents=True)
    (out / "images" / "default").mkdir(parents=True)
    categories = [
        {"id": i + 1, "name": name, "supercategory": ""} for i, (name, _) in enumerate(LABELS)
    ]
    ids = {name: i + 1 for i, (name, _) in enumerate(LABELS)}
    doc: dict = {
        "licenses": [{"name": "", "id": 0, "url": ""}],
        "info": {
            "contributor": "",
            "date_created": "",
            "description": "",
            "url": "",
            "version": "",
            "year": "",
        },
        "categories": categories,
        "images": [],
        "annotations": [],
    }
    for number, image in enumerate(images, start=1):
        width, height = image["size"]
        doc["images"].append({
            "id": number, "width": width, "height": height, "file_name": image["name"],
            "license": 0, "flickr_url": "", "coco_url": "", "date_captured": 0,
        })  # fmt: skip
        for label, box, occluded in image["shapes"]:
            # CVAT keeps two decimals in its database; so does the exported box.
            xtl, ytl, xbr, ybr = (round(v, 2) for v in box)
            w, h = round(xbr - xtl, 2), round(ybr - ytl, 2)
            doc["annotations"].append({
                "id": len(doc["annotations"]) + 1, "image_id": number, "category_id": ids[label],
                "segmentation": [], "area": float(w * h), "bbox": [xtl, ytl, w, h], "iscrowd": 0,
                "attributes": {"occluded": occluded, "rotation": 0.0},
            })  # fmt: skip
        (out / "images" / "default" / image["name"]).write_bytes(image["data"])
    (out / "annotations" / "instances_default.json").write_text(json.dumps(doc))


def main() -> None:
    images = build()
    for folder, write in (("faces_cvat", write_cvat), ("faces_coco", write_coco)):
        target = OUT / folder
        if target.exists():
            shutil.rmtree(target)
        write(images, target)
    print(f"wrote {len(images)} images in two layouts under {OUT}")


if __name__ == "__main__":
    main()

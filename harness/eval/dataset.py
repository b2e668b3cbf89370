"""A CVAT export, folder or zip, read as images with their ground truth.

Two layouts, told apart by content (not by name), both as CVAT 2.x writes a task export:

- "CVAT for images 1.1": ``annotations.xml`` (root ``<annotations>``, ``<version>1.1``) and
  ``images/NAME`` (``cvat/apps/dataset_manager/formats/cvat.py``: ``_export_images``);
- "COCO 1.0": ``annotations/instances_<subset>.json`` and ``images/<subset>/NAME``
  (``formats/coco.py``: Datumaro's ``coco_instances`` exporter, ``merge_images=False``).

Both are parsed by Datumaro, the library CVAT itself reads and writes them with (its ``cvat``
and ``coco_instances`` formats), so a box means here what it means in CVAT.
"""

from __future__ import annotations

import contextlib
import hashlib
import zipfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from xml.etree import ElementTree

from harness.eval import DatasetError
from harness.nuclio.runners.scratch import ScratchDir

CVAT_FORMAT = "CVAT for images 1.1"
COCO_FORMAT = "COCO 1.0"
EXPECTED = (
    f'a CVAT export: "{CVAT_FORMAT}" (annotations.xml + images/) or "{COCO_FORMAT}"'
    " (annotations/instances_default.json + images/), as a folder or a zip, exported with"
    " images"
)
SCRATCH_PREFIX = "cvat-fn-dataset-"
INSTALL_HINT = "cvat-fn eval needs its extra: pip install 'cvat-fn[eval]'"


@dataclass
class TruthShape:
    """One ground-truth annotation: its label, COCO box ``[x, y, w, h]`` and, for polygons and
    masks, its COCO segmentation (polygon lists or an RLE)."""

    label: str
    bbox: list[float]
    segmentation: Any = None
    occluded: bool = False
    crowd: bool = False
    """COCO's ``iscrowd`` (CVAT's COCO export sets it on masks): matches are not counted."""


@dataclass
class DatasetImage:
    name: str
    path: Path
    width: int
    height: int
    truth: list[TruthShape] = field(default_factory=list)


@dataclass
class Dataset:
    """An opened export: its format, its labels (in the export's order) and its images."""

    path: Path
    format: str
    root: Path
    labels: list[str]
    images: list[DatasetImage]

    def __len__(self) -> int:
        return len(self.images)

    def __iter__(self) -> Iterator[DatasetImage]:
        return iter(self.images)


def _single_folder(root: Path) -> Path:
    """A zip often wraps everything in one folder: look inside it."""
    entries = [p for p in root.iterdir() if not p.name.startswith(".")]
    if len(entries) == 1 and entries[0].is_dir():
        return entries[0]
    return root


def detect_format(root: Path) -> str | None:
    """CVAT_FORMAT, COCO_FORMAT or None, from what the folder holds."""
    xml = root / "annotations.xml"
    if xml.is_file():
        try:
            for _event, element in ElementTree.iterparse(xml, events=("start",)):
                if element.tag != "annotations":
                    return None
                break
        except ElementTree.ParseError:
            return None
        return CVAT_FORMAT
    if any((root / "annotations").glob("instances_*.json")):
        return COCO_FORMAT
    return None


@contextlib.contextmanager
def open_dataset(path: Path) -> Iterator[Dataset]:
    """The export at ``path`` (folder or zip); a zip is unpacked to a temporary folder that is
    removed on exit. DatasetError says what was expected when it is neither format."""
    path = Path(path)
    if not path.exists():
        raise DatasetError(f"{path}: no such file or folder; expected {EXPECTED}")
    scratch: ScratchDir | None = None
    try:
        if path.is_dir():
            root = path
        elif zipfile.is_zipfile(path):
            scratch = ScratchDir(SCRATCH_PREFIX)  # removed on exit, or by the next run if killed
            with zipfile.ZipFile(path) as archive:
                archive.extractall(scratch.path)
            root = scratch.path
        else:
            raise DatasetError(f"{path}: not a folder or a zip; expected {EXPECTED}")
        root = _single_folder(root)
        fmt = detect_format(root)
        if fmt is None:
            raise DatasetError(f"{path}: neither format found; expected {EXPECTED}")
        if not (root / "images").is_dir():
            raise DatasetError(
                f"{path}: a {fmt} export without its images/ folder; export from CVAT with"
                " 'Save images' checked"
            )
        yield _read(path, root, fmt)
    finally:
        if scratch is not None:
            scratch.remove()


def _read(path: Path, root: Path, fmt: str) -> Dataset:
    try:
        from datumaro.components.annotation import AnnotationType
        from datumaro.components.dataset import Dataset as DmDataset
    except ImportError:
        raise DatasetError(INSTALL_HINT) from None
    dm_format = "cvat" if fmt == CVAT_FORMAT else "coco_instances"
    try:
        dm = DmDataset.import_from(str(root), dm_format)
        categories = dm.categories()[AnnotationType.label]
        labels = [c.name for c in categories]
        items = list(dm)
    except Exception as exc:  # Datumaro raises many kinds; each means "cannot read it"
        cause: BaseException = exc
        while cause.__cause__ is not None:  # Datumaro wraps the reason in "Failed to import"
            cause = cause.__cause__
        hint = "; export from CVAT with 'Save images' checked" if "image" in str(cause) else ""
        raise DatasetError(f"{path}: not a readable {fmt} export ({cause}){hint}") from None
    images: list[DatasetImage] = []
    missing: list[str] = []
    for item in items:
        media = item.media
        file = Path(media.path) if media is not None and getattr(media, "path", None) else None
        if file is None or not file.is_file():
            missing.append(str(item.id))
            continue
        height, width = media.size if media.size else (0, 0)
        if not width or not height:
            from PIL import Image

            with Image.open(file) as img:
                width, height = img.size
        truth = [
            shape
            for ann in item.annotations
            if (shape := _truth(ann, labels, AnnotationType, (int(height), int(width))))
        ]
        name = str(file.relative_to(root)) if file.is_relative_to(root) else file.name
        images.append(DatasetImage(name, file, int(width), int(height), truth))
    if missing:
        shown = ", ".join(missing[:3]) + (" ..." if len(missing) > 3 else "")
        raise DatasetError(
            f"{path}: {len(missing)} of {len(items)} image(s) are not in the export ({shown});"
            " export from CVAT with 'Save images' checked"
        )
    if not images:
        raise DatasetError(f"{path}: the {fmt} export holds no images")
    images.sort(key=lambda image: image.name)
    return Dataset(path, fmt, root, labels, images)


def _truth(ann: Any, labels: list[str], types: Any, size: tuple[int, int]) -> TruthShape | None:
    """A Datumaro annotation as a TruthShape; None for what a detector is not scored on."""
    if ann.label is None or ann.type not in (types.bbox, types.polygon, types.mask):
        return None
    label = labels[ann.label]
    occluded = bool(ann.attributes.get("occluded", False))
    bbox = [float(v) for v in ann.get_bbox()]
    segmentation: Any = None
    if ann.type == types.polygon:
        segmentation = [[float(v) for v in ann.points]]
    elif ann.type == types.mask:
        from harness.eval.rle import encode_mask

        segmentation = encode_mask(ann.image, size)
    crowd = bool(ann.attributes.get("is_crowd", False))
    return TruthShape(label, bbox, segmentation, occluded, crowd)


def _kind(segmentation: Any) -> str:
    """box, polygon or mask: a redrawn shape of another kind is other data."""
    if segmentation is None:
        return "box"
    return "polygon" if isinstance(segmentation, list) else "mask"


def fingerprint(dataset: Dataset) -> str:
    """A digest of what is scored: each image's content and its ground truth's labels, kinds
    (box, polygon, mask) and boxes (to 0.1 px), in content order. A mask or polygon redrawn
    within the same box, or a changed crowd flag (which COCO and CVAT XML exports set
    differently), keeps the digest. Recorded in eval.json, so a gate tells a baseline measured
    on other data from a real drop; the same task exported as CVAT XML or as COCO gives the
    same digest (file names and formats do not enter it)."""
    entries = []
    for image in dataset.images:
        content = hashlib.sha256(image.path.read_bytes()).hexdigest()
        boxes = sorted(
            (shape.label, _kind(shape.segmentation), *(round(float(v), 1) for v in shape.bbox))
            for shape in image.truth
        )
        entries.append(f"{content} {boxes!r}\n")
    digest = hashlib.sha256()
    for entry in sorted(entries):
        digest.update(entry.encode())
    return digest.hexdigest()[:16]

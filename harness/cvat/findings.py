"""What a response check reports: findings that name the item, the field, the reason and the
CVAT version the verdict holds for, because CVAT's verdicts change between releases."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

CVAT_VERSION = "2.73"
"""The CVAT release validated against by default: cvat-ai/cvat v2.73.0 ("Prepare release
v2.73.0", commit 7972cb4f2ad8): ``cvat/apps/lambda_manager/views.py``,
``cvat/apps/engine/serializers.py``, ``cvat-core/src/lambda-manager.ts`` at that release."""

NUMBER_BY_INT_SINCE = (2, 35)
"""First release whose ``check_attr_value`` reads a number attribute with ``int(value)`` and
tests it against the attribute's ``min``, ``max`` and ``step`` (cvat-ai/cvat PR #9285, commit
7dfd71fc5, first in v2.35.0). Before it: ``value.isnumeric()``, no range test."""

INTERACTOR_SHAPES_SINCE = (2, 60)
"""First release whose UI takes an interactor's ``{"shapes": [...]}`` answer (cvat-ai/cvat
PR #10329, "Updated interaction pipeline", commit 69425c66c, first in v2.60.0). Before it,
``{"mask": 2-D array}`` was the current answer."""

UI_SKIPS_NON_MASKS_SINCE = (2, 73)
"""The first release read whose UI skips an interactor's non-mask shapes in tools-control.tsx
``runInteractionRequest`` (``if (item.type !== ShapeType.MASK) continue``) before reading
their points, so a ``"shapes"`` string (iterable, its characters no masks) shows nothing.
v2.64.0's code (read) filtered them in lambda-manager.ts after ``Int32Array.from`` of every
shape's points and failed on a string's characters; the releases between were not read, so
they are judged as 2.64."""

SHAPE_COUNTS_SINCE = (2, 40)
"""First release whose ``ShapeSerializer.validate`` checks each shape's number of points for
its type (4 for a rectangle, at least 6 and even for a polygon, ..., none for a skeleton)
and fails the request otherwise (cvat-ai/cvat PR #9556, "Validate point and element counts
for uploaded shapes", commit 6094e32e2, first in v2.40.0). Before it a shape was stored with
whatever count it had."""

OBJ_BBOX_LIST_SINCE = (2, 16)
"""First release whose UI sends an interactor's ``obj_bbox`` itself: the corners of the box
drawn, ``[]`` when none is (``convertShapesForInteractor`` in ``cvat-canvas-wrapper.ts``), and
whose server passes it on (``data.get("obj_bbox", None)``): cvat-ai/cvat PR #8270, "Segment
Anything: supported bounding box input", commit 10a5f661e, first in v2.16.3 (versions are
compared as (major, minor), so "2.16" means its last patch). Before it the server sent null,
or the first two positive points for functions with ``startswith_box``."""

ROI_SINCE = (2, 70)
"""First release whose server takes a region of interest, ``"roi": [xtl, ytl, xbr, ybr]``, for
detectors and interactors: it crops the frame, moves an interactor's prompts into the crop and
the answer back into the frame (cvat-ai/cvat PR #10794, "Introduce region of interest for
detectors and interactors": ``ROIHelper`` in ``cvat/apps/lambda_manager/utils.py``; read at
v2.73.0, harness/cvat/roi.py). Before it no request carries one, so cvat-fn sends none."""

TEXT_PROMPTS_SINCE = (2, 73)
"""First release known to forward an interactor's ``text_prompts`` (``LambdaFunction.invoke``
in ``views.py``: added to the payload when the request has a non-empty list). Read at v2.73.0;
the release that added it could not be looked up, so older versions send none."""

CODES: dict[str, str] = {
    "response.form": "the answer's top-level form (a list of shapes, an object, ...)",
    "label.unknown": "a shape's label is not among the function's: CVAT drops the shape",
    "label.type": "a shape's type differs from its label's declared type",
    "coord.outside": "a point or mask lies outside the image",
    "attr.form": "an attribute that is not a {name, value} object",
    "attr.unknown": "an attribute the label does not declare: CVAT drops it",
    "attr.value": "a value CVAT's check for the attribute's input type refuses or bends",
    "attr.value-type": "a value that is not text",
    "attr.range": "a number outside its declared [min, max] or off its step",
    "attr.spec": "a declared attribute CVAT cannot check a value against (number values)",
    "shape.group": "group_id",
    "shape.outside": "outside",
    "shape.rotation": "rotation",
    "shape.occluded": "occluded: CVAT sets every auto shape's occluded to false",
    "shape.z_order": "z_order: CVAT stores every auto shape at z_order 0",
    "shape.points": "a shape's points: their count for its type, their order",
    "mask.geometry": "a mask whose bitmap or run lengths do not fit its box",
    "skeleton.elements": "a skeleton's elements missing or malformed",
    "skeleton.elements-on-non-skeleton": "elements on a shape or label that is no skeleton",
    "skeleton.label-type": "a skeleton shape for a label that is no skeleton",
    "skeleton.unknown-element": "an element that is not a sublabel: CVAT drops it",
    "skeleton.missing-element": "a sublabel without an element: CVAT adds it outside",
    "skeleton.duplicate-element": "a second element for a sublabel: CVAT keeps the first",
    "skeleton.points": "a skeleton's own points (CVAT takes none)",
    "skeleton.element-type": "an element that is not a points shape",
    "skeleton.all-outside": "no element left inside: CVAT drops the skeleton",
    "roi.mask-size": "an interactor's mask that is not the size of the region it was sent",
    "roi.shapes": "an interactor's shape CVAT cannot move back out of the region (HTTP 500)",
    "tracker.boxed": "a tracked shape whose points' box (all the UI keeps) is not the object's",
    "interactor.nothing-shown": "an interactor answer the UI has nothing to show for",
    "interactor.empty-contour": "a mask with runs but no pixel set: the UI fails on its contour",
    "interactor.confidence": "a confidence (spec_id 0) that hides a mask in the UI",
    "interactor.attributes": "attributes the UI does not read (only a confidence is read)",
}
"""Every code a rule names; ``<kind>.schema`` (``detector.schema``, ...) for the rest."""

Severity = Literal["error", "loss", "warning"]
"""``error``: CVAT fails the request (an auto-annotation job stops there); ``loss``: CVAT
takes the answer but drops or alters part of it without a word ("CVAT will drop this shape:
..."); ``warning``: CVAT keeps it all, but something is odd or deprecated."""


@dataclass(frozen=True)
class Finding:
    """One thing wrong (or odd) with a response, for one CVAT version. ``code`` is stable
    (``label.unknown``, ``attr.value``, ...): checks select findings by it, never by text."""

    severity: Severity
    where: str
    message: str
    cvat_version: str
    code: str = ""

    def __str__(self) -> str:
        prefix = "warning: " if self.severity == "warning" else ""
        return f"{prefix}{self.where}: {self.message}"


def errors(findings: Iterable[Finding]) -> list[Finding]:
    """The findings that break the function in CVAT (losses and warnings left out)."""
    return [f for f in findings if f.severity == "error"]


def losses(findings: Iterable[Finding]) -> list[Finding]:
    """The findings where CVAT silently drops or alters what the function answered."""
    return [f for f in findings if f.severity == "loss"]


def warnings(findings: Iterable[Finding]) -> list[Finding]:
    """The findings CVAT survives but a model author should read."""
    return [f for f in findings if f.severity == "warning"]


def failing(findings: Iterable[Finding]) -> list[Finding]:
    """What a check fails on: errors and silent losses."""
    return [f for f in findings if f.severity in ("error", "loss")]


def parse_version(version: str) -> tuple[int, int]:
    """``"2.73"``, ``"v2.73.1"`` -> ``(2, 73)``; ValueError for anything else."""
    m = re.fullmatch(r"v?(\d+)\.(\d+)(?:\.\d+)?", version.strip())
    if not m:
        raise ValueError(f"{version!r} is not a CVAT version such as {CVAT_VERSION!r}")
    return int(m.group(1)), int(m.group(2))


class Collector:
    """Gathers findings for one response, each stamped with the version they hold for.

    ``specs``: the function's labels by name (objects with ``type``, ``attributes``,
    ``sublabels``), when known; the rules that depend on a label's declaration need them.
    ``code``: the code given to findings whose rule names none (``<kind>.schema``).
    """

    def __init__(
        self,
        cvat_version: str = CVAT_VERSION,
        *,
        code: str = "schema",
        specs: Mapping[str, Any] | None = None,
    ) -> None:
        self.cvat_version = cvat_version
        self.version = parse_version(cvat_version)
        self.findings: list[Finding] = []
        self.code = code
        self.specs = specs

    def _add(self, severity: Severity, where: str, message: str, code: str | None) -> None:
        self.findings.append(
            Finding(severity, where, message, self.cvat_version, code or self.code)
        )

    def error(self, where: str, message: str, code: str | None = None) -> None:
        self._add("error", where, message, code)

    def loss(self, where: str, message: str, code: str | None = None) -> None:
        """CVAT takes the answer and drops part of it silently: say so plainly."""
        self._add("loss", where, message, code)

    def warn(self, where: str, message: str, code: str | None = None) -> None:
        self._add("warning", where, message, code)

"""The project's corpus of detector answers, each with the findings cvat-fn gives it for CVAT
2.73 against one function spec (:data:`SPEC`): every finding code a detector answer can
produce, at each severity it has in 2.73, and valid answers of every shape type.

tests/functions/corpus_detector answers entry ``i`` for a frame whose index stripes
(:func:`frame`) read ``i``, so one function serves the whole corpus: to ``cvat-fn invoke``,
to the suite, and to a real CVAT's interactive call and auto-annotation job
(tests/cvat_server/test_verdicts.py measures every verdict there). Plain data and PIL only:
the function imports this module too.
"""

from __future__ import annotations

import io
import json
from dataclasses import dataclass, field
from typing import Any

WIDTH, HEIGHT = 320, 240
"""Every corpus frame's size: the coordinates below are judged against it."""
STRIPES = 8
STRIPE_ROWS = 12

SVG = (
    '<circle r="1.5" cx="30" cy="20" data-type="element node" data-element-id="3"'
    ' data-node-id="3" data-label-name="head"></circle>'
    '<circle r="1.5" cx="40" cy="60" data-type="element node" data-element-id="4"'
    ' data-node-id="4" data-label-name="hand"></circle>'
)

SPEC: list[dict[str, Any]] = [
    {
        "id": 1,
        "name": "car",
        "type": "rectangle",
        "attributes": [
            {
                "name": "count",
                "input_type": "number",
                "mutable": False,
                "values": ["0", "10", "1"],
                "default_value": "0",
            },
            {
                "name": "seats",
                "input_type": "number",
                "mutable": False,
                "values": ["1", "9", "2"],
                "default_value": "1",
            },
            {
                "name": "parked",
                "input_type": "checkbox",
                "mutable": False,
                "values": ["false"],
                "default_value": "false",
            },
            {
                "name": "plate",
                "input_type": "text",
                "mutable": False,
                "values": ["none"],
                "default_value": "none",
            },
            {
                "name": "color",
                "input_type": "select",
                "mutable": False,
                "values": ["red", "green", "blue"],
                "default_value": "red",
            },
            {
                "name": "make",
                "input_type": "radio",
                "mutable": False,
                "values": ["sedan", "truck"],
                "default_value": "sedan",
            },
        ],
    },
    {
        "id": 2,
        "name": "gauge",
        "type": "any",
        "attributes": [
            {
                "name": "level",
                "input_type": "number",
                "mutable": False,
                "values": ["0", "10", "0"],
                "default_value": "0",
            },
            {
                "name": "scale",
                "input_type": "number",
                "mutable": False,
                "values": ["0", "10.5", "1"],
                "default_value": "0",
            },
        ],
    },
    {
        "id": 5,
        "name": "person",
        "type": "skeleton",
        "svg": SVG,
        "sublabels": [
            {
                "id": 3,
                "name": "head",
                "type": "points",
                "attributes": [
                    {
                        "name": "visible",
                        "input_type": "checkbox",
                        "mutable": False,
                        "values": ["true"],
                        "default_value": "true",
                    }
                ],
            },
            {"id": 4, "name": "hand", "type": "points"},
        ],
    },
    {"id": 6, "name": "object", "type": "any"},
    {"id": 7, "name": "scene", "type": "tag"},
]
"""The function's labels: attributes of every input type CVAT checks (number twice, with a
step; a label whose number attributes CVAT cannot read), a skeleton with an attribute on a
sublabel, a label of any type and a tag label."""


def rect(label: str = "object", points: Any = (10, 10, 50, 40), **extra: Any) -> dict[str, Any]:
    return {"label": label, "type": "rectangle", "points": list(points), **extra}


def attr(name: str, value: Any) -> dict[str, Any]:
    return {"name": name, "value": value}


def car(*attributes: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return rect("car", attributes=list(attributes), **extra)


def gauge(name: str, value: Any) -> dict[str, Any]:
    return rect("gauge", attributes=[attr(name, value)])


def point(label: str, x: float, y: float, **extra: Any) -> dict[str, Any]:
    return {"label": label, "type": "points", "points": [x, y], **extra}


def person(*elements: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"label": "person", "type": "skeleton", "elements": list(elements), **extra}


HEAD = point("head", 30, 20)
HAND = point("hand", 40, 60)
MASK_BOX = [10, 10, 13, 12]  # 4 x 3 pixels
MASK_BITS = [0, 1, 1, 0, 1, 1, 1, 1, 0, 1, 1, 0]
CUBOID = [10, 10, 10, 50, 50, 10, 50, 50, 60, 15, 60, 55, 20, 15, 20, 55]


@dataclass(frozen=True)
class Answer:
    """One answer of the corpus: ``body`` as the function sends it (JSON), or ``text`` sent
    as it is (an answer that is no JSON); ``expect``: cvat-fn's findings for CVAT 2.73 as
    ``"severity code"``."""

    name: str
    body: Any = None
    expect: frozenset[str] = field(default_factory=frozenset)
    text: str | None = None

    def payload(self) -> tuple[str, str]:
        """(body text, content type) the function answers."""
        if self.text is not None:
            return self.text, "text/plain"
        return json.dumps(self.body), "application/json"


def A(name: str, body: Any, *expect: str, text: str | None = None) -> Answer:  # noqa: N802
    return Answer(name, body, frozenset(expect), text)


VALID = [
    A("rectangle", [rect()]),
    A("polygon", [{"label": "object", "type": "polygon", "points": [10, 10, 60, 10, 35, 50]}]),
    A("polyline", [{"label": "object", "type": "polyline", "points": [10, 10, 60, 60, 100, 20]}]),
    A("points", [{"label": "object", "type": "points", "points": [20, 20, 40, 40, 60, 30]}]),
    A("ellipse", [{"label": "object", "type": "ellipse", "points": [100, 100, 130, 80]}]),
    A("cuboid", [{"label": "object", "type": "cuboid", "points": CUBOID}]),
    A("mask", [{"label": "object", "type": "mask", "mask": MASK_BITS + MASK_BOX}]),
    A(
        "mask-booleans",
        [{"label": "object", "type": "mask", "mask": [bool(v) for v in MASK_BITS] + MASK_BOX}],
    ),
    A("skeleton", [person(HEAD, HAND)]),
    A("tag", [{"label": "scene", "type": "tag"}]),
    A("tag-upper-case", [{"label": "scene", "type": "TAG"}]),
    A("no-shapes", []),
    A(
        "every-attribute",
        [
            car(
                attr("count", "3"),
                attr("seats", "5"),
                attr("parked", "true"),
                attr("plate", "AB 123"),
                attr("color", "green"),
                attr("make", "truck"),
            )
        ],
    ),
    A(
        "element-attribute",
        [person(point("head", 30, 20, attributes=[attr("visible", "false")]), HAND)],
    ),
    A("rotation", [rect(rotation=45)]),
    A("group", [rect(group_id=3), rect(points=(60, 60, 90, 90), group_id=3)]),
    A("outside", [rect(outside=True)]),
    A("confidence", [rect(confidence=0.75), rect(points=(60, 60, 90, 90), confidence="0.5")]),
    A(
        "several",
        [rect(), {"label": "scene", "type": "tag"}, person(HEAD, HAND), car(attr("count", "10"))],
    ),
    A("element-outside", [person(HEAD, point("hand", 40, 60, outside=True))]),
    A("group-zero-on-tag", [{"label": "scene", "type": "tag", "group_id": 0}]),
    A("text-any-characters", [car(attr("plate", "ÄÖ – ✓ 'x'"))]),
]

WARNINGS = [
    A("outside-the-image", [rect(points=(300, 200, 400, 300))], "warning coord.outside"),
    A("reversed-rectangle", [rect(points=(50, 40, 10, 10))], "warning shape.points"),
    A("empty-object", {}, "warning response.form"),
    A("empty-json-string", "", "warning response.form"),
    A(
        "polygon-for-rectangle-label",
        [{"label": "car", "type": "polygon", "points": [10, 10, 60, 10, 35, 50]}],
        "warning label.type",
    ),
    A("rectangle-for-skeleton-label", [rect("person")], "warning label.type"),
    A("number-as-int", [car(attr("count", 3))], "warning attr.value-type"),
    A("number-padded", [car(attr("count", " 3 "))], "warning attr.value"),
    A("select-substring", [car(attr("color", "ree"))], "warning attr.value"),
    A("text-as-number", [car(attr("plate", 42))], "warning attr.value-type"),
    A("group-as-text", [rect(group_id="3")], "warning shape.group"),
    A("outside-as-text", [rect(outside="true")], "warning shape.outside"),
    A("rotation-as-text", [rect(rotation="45")], "warning shape.rotation"),
    A("missing-element", [person(HEAD)], "warning skeleton.missing-element"),
    A(
        "element-as-rectangle",
        [person(HEAD, rect("hand", points=(40, 60, 44, 64)))],
        "warning skeleton.element-type",
    ),
    A(
        "mask-all-zero",
        [{"label": "object", "type": "mask", "mask": [0] * len(MASK_BITS) + MASK_BOX}],
        "warning mask.geometry",
    ),
    A("confidence-not-a-number", [rect(confidence="high")], "warning detector.schema"),
    A("confidence-above-one", [rect(confidence=1.5)], "warning detector.schema"),
    A(
        "mask-box-not-whole",
        [{"label": "object", "type": "mask", "mask": MASK_BITS + [10.5, 10, 13.5, 12]}],
        "warning mask.geometry",
    ),
    A(
        "mask-values-above-one",
        [{"label": "object", "type": "mask", "mask": [2 * v for v in MASK_BITS] + MASK_BOX}],
        "warning detector.schema",
    ),
]

LOSSES = [
    A("unknown-label", [rect("truck")], "loss label.unknown"),
    A("label-not-text", [rect(7)], "loss label.unknown"),
    A("unknown-attribute", [car(attr("speed", "3"))], "loss attr.unknown"),
    A("number-decimal", [car(attr("count", "3.5"))], "loss attr.value"),
    A("checkbox-yes", [car(attr("parked", "yes"))], "loss attr.value"),
    A("select-unknown", [car(attr("color", "purple"))], "loss attr.value"),
    A("radio-unknown", [car(attr("make", "bus"))], "loss attr.value"),
    A("text-padded", [car(attr("plate", " AB 123 "))], "loss attr.value"),
    A("number-above-max", [car(attr("count", "11"))], "loss attr.range"),
    A("number-off-step", [car(attr("seats", "4"))], "loss attr.range"),
    A("group-not-group-id", [rect(group=2)], "loss shape.group"),
    A("group-on-tag", [{"label": "scene", "type": "tag", "group_id": 3}], "loss shape.group"),
    A("occluded", [rect(occluded=True)], "loss shape.occluded"),
    A("z_order", [rect(z_order=2)], "loss shape.z_order"),
    A("outside-on-tag", [{"label": "scene", "type": "tag", "outside": True}], "loss shape.outside"),
    A(
        "rotation-on-polygon",
        [
            {
                "label": "object",
                "type": "polygon",
                "points": [10, 10, 60, 10, 35, 50],
                "rotation": 30,
            }
        ],
        "loss shape.rotation",
    ),
    A(
        "mask-bitmap-too-short",
        [{"label": "object", "type": "mask", "mask": MASK_BITS[:-2] + MASK_BOX}],
        "loss mask.geometry",
    ),
    A(
        "mask-box-reversed",
        [{"label": "object", "type": "mask", "mask": MASK_BITS + [13, 12, 10, 10]}],
        "loss mask.geometry",
    ),
    A(
        "mask-three-values",
        [
            {
                "label": "object",
                "type": "mask",
                "mask": [0, 1, 2, 0, 1, 2, 2, 1, 0, 1, 1, 0] + MASK_BOX,
            }
        ],
        "loss mask.geometry",
    ),
    A(
        "elements-on-rectangle",
        [rect("person", elements=[HEAD, HAND])],
        "loss skeleton.elements-on-non-skeleton",
        "warning label.type",
    ),
    A(
        "unknown-element",
        [person(HEAD, HAND, point("foot", 50, 80))],
        "loss skeleton.unknown-element",
    ),
    A(
        "duplicate-element",
        [person(HEAD, HAND, point("head", 35, 25))],
        "loss skeleton.duplicate-element",
    ),
    A(
        "every-element-outside",
        [person(point("head", 30, 20, outside=True), point("hand", 40, 60, outside=True))],
        "loss skeleton.all-outside",
    ),
    A(
        "no-element-left",
        [person(point("foot", 50, 80))],
        "loss skeleton.unknown-element",
        "loss skeleton.all-outside",
    ),
    A(
        "element-attribute-unknown",
        [person(point("head", 30, 20, attributes=[attr("colour", "red")]), HAND)],
        "loss attr.unknown",
    ),
]

ERRORS = [
    A("not-json", None, "error detector.schema", text="no faces here"),
    A("json-string", "[]", "error response.form"),
    A("json-number", 5, "error response.form"),
    A("single-shape", rect(), "error detector.schema"),
    A("object-not-shapes", {"shapes": []}, "error detector.schema"),
    A("item-not-object", ["rectangle"], "error detector.schema"),
    A(
        "label-missing",
        [{"type": "rectangle", "points": [10, 10, 50, 40]}],
        "error detector.schema",
    ),
    A("label-a-list", [rect(["object"])], "error detector.schema"),
    A("type-missing", [{"label": "object", "points": [10, 10, 50, 40]}], "error detector.schema"),
    A(
        "type-not-text",
        [{"label": "object", "type": 1, "points": [10, 10, 50, 40]}],
        "error detector.schema",
    ),
    A(
        "type-upper-case",
        [{"label": "object", "type": "Rectangle", "points": [10, 10, 50, 40]}],
        "error detector.schema",
    ),
    A(
        "type-unknown",
        [{"label": "object", "type": "box", "points": [10, 10, 50, 40]}],
        "error detector.schema",
    ),
    A("points-missing", [{"label": "object", "type": "polygon"}], "error detector.schema"),
    A("points-count", [rect(points=(10, 10, 50))], "error shape.points"),
    A(
        "polygon-two-points",
        [{"label": "object", "type": "polygon", "points": [10, 10, 50, 40]}],
        "error shape.points",
    ),
    A("points-not-numbers", [rect(points=("10", 10, 50, 40))], "error detector.schema"),
    A(
        "mask-missing",
        [{"label": "object", "type": "mask", "points": [10, 10, 60, 10, 35, 50]}],
        "error detector.schema",
    ),
    A(
        "mask-too-short",
        [{"label": "object", "type": "mask", "mask": MASK_BOX[:3]}],
        "error detector.schema",
    ),
    # The two verdicts below are the datumaro fork's, run on these answers' bitmaps by
    # tests/test_fork_mask_rules.py (which checks these entries): the box alone raises in
    # mask_to_rle, an all-zero bitmap is stored as an empty mask.
    A(
        "mask-box-only",
        [{"label": "object", "type": "mask", "mask": MASK_BOX}],
        "error mask.geometry",
    ),
    A("group-negative", [rect(group_id=-1)], "error shape.group"),
    A("group-not-a-number", [rect(group_id="first")], "error shape.group"),
    A("outside-not-boolean", [rect(outside="maybe")], "error shape.outside"),
    A("rotation-above-360", [rect(rotation=400)], "error shape.rotation"),
    A("rotation-not-a-number", [rect(rotation="north")], "error shape.rotation"),
    A("attributes-an-object", [rect("car", attributes={"count": "3"})], "error attr.form"),
    A("attribute-not-object", [car("count")], "error attr.form"),
    A("attribute-name-missing", [car({"value": "3"})], "error attr.form"),
    A("attribute-name-a-list", [car({"name": ["count"], "value": "3"})], "error attr.form"),
    A("attribute-value-missing", [car({"name": "count"})], "error attr.form"),
    A("number-null", [car(attr("count", None))], "error attr.value-type"),
    A("select-not-text", [car(attr("color", 1))], "error attr.value-type"),
    A("text-nul", [car(attr("plate", "AB\x00123"))], "error attr.value"),
    A("text-too-long", [car(attr("plate", "x" * 4097))], "error attr.value"),
    A("number-step-zero", [gauge("level", "3")], "error attr.spec"),
    A("number-values-not-whole", [gauge("scale", "3")], "error attr.spec"),
    A(
        "elements-on-non-skeleton-label",
        [rect("object", elements=[HEAD])],
        "error skeleton.elements-on-non-skeleton",
    ),
    A(
        "skeleton-for-rectangle-label",
        [{"label": "car", "type": "skeleton"}],
        "error skeleton.label-type",
    ),
    A(
        "skeleton-without-elements",
        [{"label": "person", "type": "skeleton"}],
        "error skeleton.elements",
    ),
    A(
        "element-without-label",
        [person({"type": "points", "points": [30, 20]}, HAND)],
        "error skeleton.elements",
        "warning skeleton.missing-element",
    ),
    A(
        "element-one-number",
        [person(point("head", 30, 20) | {"points": [30]}, HAND)],
        "error skeleton.elements",
    ),
    A("skeleton-own-points", [person(HEAD, HAND, points=[30, 20])], "error skeleton.points"),
    A(
        "element-a-tag",
        [person({"label": "head", "type": "tag"}, HAND)],
        "error skeleton.element-type",
    ),
]

CORPUS: list[Answer] = [*VALID, *WARNINGS, *LOSSES, *ERRORS]


INTERACTOR: list[Answer] = [
    A("shapes-mask", {"shapes": [{"type": "mask", "points": [2, 3, 1, 10, 10, 11, 12]}]}),
    A("shapes-untyped", {"shapes": [{"points": [2, 3, 1, 10, 10, 11, 12]}]}),
    A("legacy-mask", {"mask": [[0, 1], [1, 1]]}, "warning interactor.schema"),
    A("no-shapes", {"shapes": []}, "warning interactor.nothing-shown"),
    A(
        "shapes-polygon",
        {"shapes": [{"type": "polygon", "points": [10, 10, 50, 10, 30, 40]}]},
        "loss interactor.schema",
        "warning interactor.nothing-shown",
    ),
    A(
        "rle-short-sum",
        {"shapes": [{"type": "mask", "points": [2, 3, 10, 10, 11, 12]}]},
        "warning mask.geometry",
    ),
    A(
        "rle-over-box",
        {"shapes": [{"type": "mask", "points": [2, 3, 9, 10, 10, 11, 12]}]},
        "error mask.geometry",
    ),
    A(
        "rle-one-empty-run",
        {"shapes": [{"type": "mask", "points": [6, 10, 10, 11, 12]}]},
        "warning interactor.nothing-shown",
    ),
    A(
        "rle-empty-runs",
        {"shapes": [{"type": "mask", "points": [6, 0, 10, 10, 11, 12]}]},
        "error interactor.empty-contour",
    ),
    A("bare-points", [[10, 10], [50, 10], [30, 40]], "error interactor.schema"),
    A("shapes-string", {"shapes": "mask"}, "loss interactor.schema"),
    A("not-json", None, "error interactor.schema", text="<html>no mask</html>"),
]
"""Interactor answers (tests/functions/corpus_interactor answers entry i for frame i): CVAT's
server passes an interactor's answer to the UI as it is, so only its part (JSON or not) is
measured; the rest of each verdict is the UI's (cvat-ui, read from its source)."""


def by_name(name: str) -> Answer:
    return next(answer for answer in CORPUS if answer.name == name)


# --- frames: the answer's index painted into the image -----------------------------------


def frame(index: int) -> bytes:
    """A PNG of :data:`WIDTH` x :data:`HEIGHT` whose top rows hold ``index`` in binary, one
    stripe a bit (white: 1), readable after JPEG compression too."""
    from PIL import Image, ImageDraw

    if not 0 <= index < 2**STRIPES:
        raise ValueError(f"index {index} does not fit {STRIPES} stripes")
    image = Image.new("RGB", (WIDTH, HEIGHT), (90, 90, 90))
    draw = ImageDraw.Draw(image)
    step = WIDTH // STRIPES
    for bit in range(STRIPES):
        white = index >> bit & 1
        colour = (255, 255, 255) if white else (0, 0, 0)
        draw.rectangle([bit * step, 0, (bit + 1) * step - 1, STRIPE_ROWS - 1], fill=colour)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def read_index(image: Any) -> int:
    """The index :func:`frame` painted into a PIL image."""
    grey = image.convert("L")
    step = grey.width // STRIPES
    index = 0
    for bit in range(STRIPES):
        box = (bit * step + 4, 2, (bit + 1) * step - 4, STRIPE_ROWS - 2)
        pixels = list(grey.crop(box).getdata())
        if sum(pixels) / len(pixels) > 127:
            index |= 1 << bit
    return index

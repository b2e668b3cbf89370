"""Response checks: every finding is produced by a response that violates it, and answers in
the exact shape CVAT's own functions give produce none."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from harness.cvat import CVAT_VERSION, Finding, errors, shapes_from_response, validate, warnings
from harness.cvat.shapes import MASK_BITMAP, MASK_RLE, Shape, bitmap_to_rle, rle_to_bitmap

IMAGE = (640, 480)
RECT = {"label": "face", "type": "rectangle", "points": [10, 20, 110, 220]}


def shape(**fields: Any) -> dict[str, Any]:
    return {**RECT, **fields}


def mask_shape(**fields: Any) -> dict[str, Any]:
    return {"label": "face", "type": "mask", **fields}


def only(findings: list[Finding]) -> Finding:
    assert len(findings) == 1, [str(f) for f in findings]
    return findings[0]


# --- valid answers: no findings ------------------------------------------------------------


def test_yolo_v3_answer_is_clean() -> None:
    # serverless/openvino/omz/public/yolo-v3-tf/nuclio/model_handler.py: confidence is
    # str(score), xbr/ybr are clipped to image.width/height.
    body = [
        {
            "confidence": "0.9731",
            "label": "person",
            "points": [0, 12, 640, 480],
            "type": "rectangle",
        },
        {
            "confidence": "0.51",
            "label": "car",
            "points": [300.5, 200, 350.25, 260],
            "type": "rectangle",
        },
    ]
    assert validate("detector", body, labels=["person", "car"], image_size=IMAGE) == []


def test_mask_answer_is_clean() -> None:
    # The mask_rcnn / semantic-segmentation form (cvat-ai/cvat issue #6332): polygon in
    # "points", box bitmap + [xtl, ytl, xbr, ybr] in "mask".
    body = [
        {
            "confidence": 0.8,
            "label": "blood",
            "type": "mask",
            "points": [10, 10, 12, 10, 12, 11],
            "mask": [0, 1, 1, 1, 1, 0, 10, 10, 12, 11],
        }
    ]
    assert validate("detector", body, labels=["blood"], image_size=IMAGE) == []


def test_tag_skeleton_and_extras_are_clean() -> None:
    body = [
        {"label": "night", "type": "Tag", "attributes": [{"name": "light", "value": "dim"}]},
        {
            "label": "person",
            "type": "skeleton",
            "confidence": 0.7,
            "elements": [
                {"label": "nose", "type": "points", "points": [100, 100]},
                {"label": "eye", "type": "points", "points": [110, 95], "outside": False},
            ],
        },
        {
            "label": "car",
            "type": "rectangle",
            "points": [1, 2, 3, 4],
            "rotation": 15.5,
            "group_id": 2,
        },
        {"label": "car", "type": "ellipse", "points": [50, 50, 70, 40]},
        {"label": "car", "type": "cuboid", "points": list(range(16))},
        {"label": "car", "type": "polyline", "points": [1, 1, 2, 2]},
        {"label": "car", "type": "points", "points": [1, 1]},
    ]
    assert validate("detector", body, labels=["night", "person", "car"], image_size=IMAGE) == []
    assert validate("detector", []) == []


def test_current_interactor_answer_is_clean() -> None:
    # cvat-core/src/lambda-manager.ts (since PR #10329): {"shapes": [{"type": "mask",
    # "points": run lengths + [xtl, ytl, xbr, ybr]}]}; a 3x2 box, runs 0,0 | 1,1,1 | 0.
    body = {
        "shapes": [
            {
                "type": "mask",
                "points": [2, 3, 1, 5, 5, 7, 6],
                "attributes": [{"spec_id": 0, "value": "0.93"}],
            }
        ]
    }
    assert validate("interactor", body, image_size=IMAGE) == []


def test_older_interactor_answer_is_clean_for_older_cvat() -> None:
    # tools-control.tsx before PR #10329: {"mask": rows, "points"?, "bounds"?}.
    body = {"mask": [[0, 1], [1, 1]], "points": [[5, 5], [6, 6]], "bounds": [5, 5, 6, 6]}
    assert validate("interactor", body, image_size=IMAGE, cvat_version="2.40") == []


def test_typed_tracker_answer_is_clean() -> None:
    request = {"shapes": [{"type": "rectangle", "points": [1, 2, 30, 40]}], "states": []}
    body = {"shapes": [{"type": "rectangle", "points": [2, 3, 31, 41]}], "states": [{"x": [1]}]}
    assert validate("tracker", body, image_size=IMAGE, request=request) == []
    continuing = {"shapes": [None], "states": ["signed-state"]}
    assert validate("tracker", body, image_size=IMAGE, request=continuing) == []


def test_cvat_own_tracker_answer_has_only_the_legacy_warning() -> None:
    # serverless/pytorch/dschoerk/transt and foolwood/siammask main.py: {"shapes": [points],
    # "states": [state]}; siammask answers an 8-number polygon.
    request = {"shapes": [[10, 10, 50, 60], [100, 100, 150, 150]], "states": []}
    body = {
        "shapes": [[10, 10, 50, 60], [101, 99, 151, 99, 151, 149, 101, 149]],
        "states": [{"model.size": "[40, 50]"}, {"net.zf": "..."}],
    }
    findings = validate("tracker", body, image_size=IMAGE, request=request)
    assert errors(findings) == []
    assert "legacy tracker answer" in only(warnings(findings)).message


def test_reid_answer_is_clean() -> None:
    request = {"boxes0": [{}, {}, {}], "boxes1": [{}, {}]}
    assert validate("reid", [1, -1, 0], request=request) == []
    assert validate("reid", []) == []


# --- findings: one violating response each --------------------------------------------------


@dataclass
class Case:
    kind: str
    body: Any
    severity: str
    where: str
    fragment: str
    kwargs: dict[str, Any] | None = None


CASES: dict[str, Case] = {
    # top level
    "not-json": Case("detector", "oops<html>", "error", "response", "not JSON"),
    "empty": Case("detector", "  ", "error", "response", "empty"),
    "handler-raised": Case(
        "detector",
        'Exception caught in handler - "boom": Traceback',
        "error",
        "response",
        "the handler raised",
    ),
    "python-repr": Case("detector", "[{'label': 'face'}]", "error", "response", "Python repr"),
    "json-string": Case("detector", '"hello"', "error", "response", "a JSON string"),
    "not-utf8": Case("detector", b"\xff\xfe\x00", "error", "response", "not even UTF-8"),
    "detector-single-shape": Case("detector", RECT, "error", "response", "Nuclio 1.13.3"),
    "detector-object": Case("detector", {"results": []}, "error", "response", "a JSON list"),
    "detector-number": Case("detector", 3, "error", "response", "a JSON list"),
    # shape fields
    "shape-not-object": Case("detector", [[1, 2]], "error", "[0]", "a shape is a JSON object"),
    "type-missing": Case(
        "detector", [{"label": "face", "points": [1, 2, 3, 4]}], "error", "[0].type", "missing"
    ),
    "type-not-string": Case("detector", [shape(type=3)], "error", "[0].type", "must be a string"),
    "type-case": Case(
        "detector", [shape(type="Rectangle")], "error", "[0].type", 'write "rectangle"'
    ),
    "type-unknown": Case(
        "detector", [shape(type="box")], "error", "[0].type", '"box" is not a CVAT shape type'
    ),
    "label-missing": Case(
        "detector", [{"type": "rectangle", "points": [1, 2, 3, 4]}], "error", "[0].label", "missing"
    ),
    "label-not-string": Case(
        "detector", [shape(label=1)], "loss", "[0].label", "not a label's name"
    ),
    "label-unknown": Case(
        "detector",
        [shape(label="car")],
        "loss",
        "[0].label",
        '"car" is not among the function\'s labels (face)',
        {"labels": ["face"]},
    ),
    "confidence-not-number": Case(
        "detector",
        [shape(confidence="high")],
        "warning",
        "[0].confidence",
        "threshold check needs a number",
    ),
    "confidence-out-of-range": Case(
        "detector", [shape(confidence=87)], "warning", "[0].confidence", "outside [0, 1]"
    ),
    "attributes-not-list": Case(
        "detector", [shape(attributes={"a": "b"})], "error", "[0].attributes", "must be a list"
    ),
    "attribute-not-object": Case(
        "detector", [shape(attributes=["a"])], "error", "[0].attributes[0]", "must be a"
    ),
    "attribute-name-missing": Case(
        "detector",
        [shape(attributes=[{"value": "x"}])],
        "error",
        "[0].attributes[0].name",
        "missing",
    ),
    "attribute-value-not-string": Case(
        "detector",
        [shape(attributes=[{"name": "n", "value": 5}])],
        "warning",
        "[0].attributes[0].value",
        "CVAT tests values as text",
    ),
    "group-id": Case("detector", [shape(group_id=-1)], "error", "[0].group_id", "non-negative"),
    "rotation": Case(
        "detector", [shape(rotation="90")], "warning", "[0].rotation", "read as 90 degrees"
    ),
    "rotation-not-number": Case(
        "detector", [shape(rotation="ninety")], "error", "[0].rotation", "degrees"
    ),
    "outside": Case("detector", [shape(outside="no")], "warning", "[0].outside", "true or false"),
    # points
    "points-missing": Case(
        "detector",
        [{"label": "face", "type": "polygon"}],
        "error",
        "[0].points",
        "missing: a polygon needs points",
    ),
    "points-not-list": Case(
        "detector", [shape(points="1,2,3,4")], "error", "[0].points", "must be a list of numbers"
    ),
    "points-not-number": Case(
        "detector", [shape(points=[1, "2", 3, 4])], "error", "[0].points[1]", "'2' is not a number"
    ),
    "points-nan": Case(
        "detector",
        [shape(points=[1, float("nan"), 3, 4])],
        "error",
        "[0].points[1]",
        "not a finite number",
    ),
    "rectangle-count": Case(
        "detector",
        [shape(points=[1, 2, 3, 4, 5, 6])],
        "error",
        "[0].points",
        "a rectangle needs 4 numbers, got 6",
    ),
    "ellipse-count": Case(
        "detector",
        [shape(type="ellipse", points=[1, 2])],
        "error",
        "[0].points",
        "an ellipse needs 4 numbers, got 2",
    ),
    "cuboid-count": Case(
        "detector",
        [shape(type="cuboid", points=[1, 2, 3, 4])],
        "error",
        "[0].points",
        "needs 16 numbers, got 4",
    ),
    "polygon-count": Case(
        "detector",
        [shape(type="polygon", points=[1, 2, 3, 4])],
        "error",
        "[0].points",
        "at least 6 (3 points), got 4",
    ),
    "polyline-odd": Case(
        "detector",
        [shape(type="polyline", points=[1, 2, 3, 4, 5])],
        "error",
        "[0].points",
        "even count",
    ),
    "points-empty": Case(
        "detector",
        [shape(type="points", points=[])],
        "error",
        "[0].points",
        "at least 2 (1 point), got 0",
    ),
    "rectangle-order": Case(
        "detector",
        [shape(points=[100, 20, 10, 220])],
        "warning",
        "[0].points",
        "bottom-right corner above or left",
    ),
    # CVAT stores points off the image as sent (dataset_manager/task.py _save_shapes_to_db,
    # "FIXME: need to clamp points"); its UI clamps them on edit (cvat-core drawn.ts fitPoints)
    "outside-image": Case(
        "detector",
        [shape(points=[10, 20, 700, 220])],
        "warning",
        "[0].points",
        "(700, 220) lies outside the 640x480 image (tolerance 1 px)",
        {"image_size": IMAGE},
    ),
    # masks
    "mask-missing": Case(
        "detector",
        [mask_shape(points=[1, 1, 5, 1, 5, 5])],
        "error",
        "[0].mask",
        '"points" is only the polygon',
    ),
    # measured on CVAT 2.73.0 (tests/cvat_server/test_verdicts.py): fewer than four numbers
    # fail the request; a box alone is an empty bitmap, on which the datumaro fork CVAT 2.22
    # pins raises (tests/test_fork_mask_rules.py runs it)
    "mask-too-short": Case(
        "detector", [mask_shape(mask=[1, 2, 3])], "error", "[0].mask", "got 3 numbers"
    ),
    "mask-box-only": Case(
        "detector", [mask_shape(mask=[1, 2, 3, 4])], "error", "[0].mask", "no bitmap before"
    ),
    # measured: a box of fractions is stored as sent; a reversed box is stored too, with
    # nothing to decode its runs into
    "mask-box-fractional": Case(
        "detector",
        [mask_shape(mask=[1, 0, 0, 0.5, 0])],
        "warning",
        "[0].mask",
        "whole pixel indices",
    ),
    "mask-box-reversed": Case(
        "detector", [mask_shape(mask=[1, 5, 5, 4, 4])], "loss", "[0].mask", "ends before it starts"
    ),
    "mask-box-outside": Case(
        "detector",
        [mask_shape(mask=[1, 650, 0, 650, 0])],
        "warning",
        "[0].mask",
        "outside the 640x480 image",
        {"image_size": IMAGE},
    ),
    "mask-length": Case(
        "detector",
        [mask_shape(mask=[1, 0, 1, 0, 0, 1, 1])],
        "loss",
        "[0].mask",
        "the bitmap has 3 values but the box is 2x2 = 4 pixels",
    ),
    "mask-is-rle": Case(
        "detector",
        [mask_shape(mask=[1, 3, 0, 0, 1, 1])],
        "loss",
        "[0].mask",
        "look like run lengths",
    ),
    "mask-values": Case(
        "detector",
        [mask_shape(mask=[0, 255, 255, 0, 0, 0, 1, 1])],
        "warning",
        "[0].mask",
        "other than 0 and 1",
    ),
    "mask-polygon": Case(
        "detector",
        [mask_shape(mask=[1, 0, 0, 0, 0], points=[1, 2, 3, 4])],
        "error",
        "[0].points",
        "a polygon needs",
    ),
    # skeletons
    "skeleton-elements-missing": Case(
        "detector", [shape(type="skeleton")], "error", "[0].elements", "missing"
    ),
    "skeleton-elements-not-list": Case(
        "detector", [shape(type="skeleton", elements={})], "error", "[0].elements", "must be a list"
    ),
    "skeleton-elements-empty": Case(
        "detector",
        [shape(type="skeleton", elements=[])],
        "loss",
        "[0].elements",
        "CVAT will drop this shape: no element is left",
    ),
    "skeleton-all-outside": Case(
        "detector",
        [
            shape(
                type="skeleton",
                elements=[{"label": "nose", "type": "points", "points": [1, 1], "outside": True}],
            )
        ],
        "loss",
        "[0].elements",
        "every element is outside",
    ),
    "skeleton-element-type": Case(
        "detector",
        [
            shape(
                type="skeleton",
                elements=[{"label": "nose", "type": "rectangle", "points": [1, 1, 2, 2]}],
            )
        ],
        "warning",
        "[0].elements[0].type",
        'a skeleton element is "points"',
    ),
    "skeleton-element-points": Case(
        "detector",
        [
            shape(
                type="skeleton", elements=[{"label": "nose", "type": "points", "points": [1, "x"]}]
            )
        ],
        "error",
        "[0].elements[0].points[1]",
        "not a number",
    ),
    "skeleton-element-label": Case(
        "detector",
        [shape(type="skeleton", elements=[{"type": "points", "points": [1, 1]}])],
        "error",
        "[0].elements[0].label",
        "CVAT reads every element's label",
    ),
    # interactor
    "interactor-bare-list": Case(
        "interactor", [[1, 2], [3, 4], [5, 6]], "error", "response", "a bare list"
    ),
    "interactor-not-object": Case(
        "interactor", "null", "error", "response", "answers a JSON object"
    ),
    "interactor-no-key": Case("interactor", {"polygon": []}, "error", "response", 'needs "shapes"'),
    "interactor-legacy-mask": Case(
        "interactor",
        {"mask": [[0, 1], [1, 1]]},
        "warning",
        "response",
        'the older {"mask": 2-D array} answer',
    ),
    "interactor-legacy-bounds": Case(
        "interactor", {"mask": [[1]], "bounds": [0, 0, 0, 0]}, None, "", ""
    ),  # placeholder replaced below
    "interactor-shapes-not-list": Case(
        "interactor", {"shapes": {"type": "mask"}}, "error", "shapes", "must be a list"
    ),
    "interactor-shape-not-object": Case(
        "interactor", {"shapes": [[1, 2]]}, "error", "shapes[0]", "a shape is a JSON object"
    ),
    "interactor-shape-not-mask": Case(
        "interactor",
        {
            "shapes": [
                {"type": "polygon", "points": [1, 1, 2, 2, 3, 1]},
                {"type": "mask", "points": [1, 0, 0, 0, 0]},
            ]
        },
        "loss",
        "shapes[0].type",
        "keeps only masks",
    ),
    "interactor-no-masks": Case(
        "interactor", {"shapes": []}, "warning", "shapes", "no mask shapes"
    ),
    "interactor-points-missing": Case(
        "interactor", {"shapes": [{"type": "mask"}]}, "error", "shapes[0].points", "missing"
    ),
    "interactor-rle-short": Case(
        "interactor",
        {"shapes": [{"points": [0, 0, 1]}]},
        "loss",
        "shapes[0].points",
        "3 numbers, but a mask",
    ),
    "interactor-rle-empty": Case(
        "interactor",
        {"shapes": [{"points": [0, 0, 0, 0]}]},
        "warning",
        "shapes[0].points",
        "an empty mask",
    ),
    "interactor-rle-fraction": Case(
        "interactor",
        {"shapes": [{"points": [1.5, 2.5, 0, 0, 1, 1]}]},
        "loss",
        "shapes[0].points[0]",
        "read by CVAT's UI as 1",
    ),
    "interactor-rle-sum": Case(
        "interactor",
        {"shapes": [{"points": [1, 2, 0, 0, 1, 1]}]},
        "warning",
        "shapes[0].points",
        "cover 3 of the box's 2x2 = 4 pixels",
    ),
    "interactor-rle-is-bitmap": Case(
        "interactor",
        {"shapes": [{"points": [0, 1, 1, 1, 0, 0, 1, 1]}]},
        "loss",
        "shapes[0].points",
        "looks like a 0/1 bitmap",
    ),
    "interactor-attributes": Case(
        "interactor",
        {"shapes": [{"points": [4, 0, 0, 1, 1], "attributes": [{"name": "a"}]}]},
        "warning",
        "shapes[0].attributes",
        "gives the shape [] for anything",
    ),
    # cvat-core lambda-manager.ts call: typeof null === 'object', then null.spec_id throws
    "interactor-attribute-null": Case(
        "interactor",
        {
            "shapes": [
                {"points": [4, 0, 0, 1, 1], "attributes": [{"spec_id": 0, "value": "1"}, None]}
            ]
        },
        "error",
        "shapes[0].attributes[1]",
        "Interaction error occurred",
    ),
    # ... for every shape of the answer, before the UI keeps only the masks
    "interactor-attribute-null-polygon": Case(
        "interactor",
        {"shapes": [{"type": "polygon", "points": [1, 1, 2, 2, 1, 2], "attributes": [None]}]},
        "error",
        "shapes[0].attributes[0]",
        "Interaction error occurred",
    ),
    "interactor-shapes-old-cvat": Case(
        "interactor",
        {"shapes": [{"points": [4, 0, 0, 1, 1]}]},
        "error",
        "shapes",
        "CVAT 2.40 does not read",
        {"cvat_version": "2.40"},
    ),
    "interactor-old-no-key": Case(
        "interactor", {"polygon": []}, "error", "response", 'needs "mask"', {"cvat_version": "2.40"}
    ),
    # legacy mask contents
    "mask-rows-empty": Case("interactor", {"mask": []}, "error", "mask", "non-empty 2-D array"),
    "mask-row-not-list": Case(
        "interactor", {"mask": [[0, 1], 1]}, "loss", "mask[1]", "is not a row"
    ),
    "mask-rows-ragged": Case(
        "interactor", {"mask": [[0, 1], [1]]}, "loss", "mask", "rows of different lengths"
    ),
    "mask-cell-not-number": Case(
        "interactor", {"mask": [[0, "1"]]}, "warning", "mask", "reads it as a number"
    ),
    "mask-cell-values": Case(
        "interactor", {"mask": [[0, 1, 2]]}, "loss", "mask", "starts a new run"
    ),
    "mask-too-big": Case(
        "interactor",
        {"mask": [[1] * 642]},
        "warning",
        "mask",
        "reaches outside the 640x480 image",
        {"image_size": IMAGE},
    ),
    "legacy-points-ignored": Case(
        "interactor",
        {"mask": [[1]], "points": [[0, 0]]},
        "warning",
        "points",
        "ignored by CVAT 2.73",
    ),
    "old-bounds-count": Case(
        "interactor",
        {"mask": [[1]], "bounds": [0, 0, 0]},
        "error",
        "bounds",
        "got 3 numbers",
        {"cvat_version": "2.40"},
    ),
    "old-bounds-size": Case(
        "interactor",
        {"mask": [[1, 1]], "bounds": [0, 0, 4, 0]},
        "error",
        "bounds",
        "does not match the 2x1 mask",
        {"cvat_version": "2.40"},
    ),
    "old-bounds-outside": Case(
        "interactor",
        {"mask": [[1]], "bounds": [650, 0, 650, 0]},
        "warning",
        "bounds",
        "outside",
        {"cvat_version": "2.40", "image_size": IMAGE},
    ),
    "old-points-malformed": Case(
        "interactor",
        {"mask": [[1]], "points": [1, 2]},
        "error",
        "points",
        "[x, y] points",
        {"cvat_version": "2.40"},
    ),
    "old-points-outside": Case(
        "interactor",
        {"mask": [[1]], "points": [[900, 1]]},
        "warning",
        "points",
        "outside",
        {"cvat_version": "2.40", "image_size": IMAGE},
    ),
    # tracker
    "tracker-not-object": Case(
        "tracker", [[1, 2, 3, 4]], "error", "response", '{"shapes": [...], "states": [...]}'
    ),
    "tracker-old-single": Case(
        "tracker",
        {"shape": [1, 2, 3, 4], "state": {}, "shapes": []},
        "error",
        "states",
        'the single-object {"shape", "state"}',
    ),
    # tools-control.tsx checkTrackedStates: a track answer's shapes go through .map(...)
    "tracker-shapes-missing": Case("tracker", {"states": []}, "error", "shapes", "missing"),
    # ... while of an init_tracking answer only the states are read
    "tracker-shapes-missing-init": Case(
        "tracker",
        {"states": [{}]},
        "warning",
        "shapes",
        "harmless on this first call",
        {"request": {"shapes": [[1, 2, 3, 4]], "states": []}},
    ),
    "tracker-states-not-list": Case(
        "tracker", {"shapes": [], "states": {}}, "error", "states", "must be a list"
    ),
    "tracker-shapes-not-list": Case(
        "tracker", {"shapes": "x", "states": []}, "error", "shapes", "must be a list"
    ),
    "tracker-state-not-json": Case(
        "tracker",
        {"shapes": [[1, 2, 3, 4]], "states": [{1, 2}]},
        "error",
        "states[0]",
        "not JSON-serialisable",
    ),
    # lambda_manager/views.py invoke: signer.sign(json.dumps(None)), unsigned back to None
    "tracker-state-null": Case(
        "tracker",
        {"shapes": [[1, 2, 3, 4]], "states": [None]},
        "warning",
        "states[0]",
        "nothing to track the object from",
    ),
    "tracker-count-mismatch": Case(
        "tracker",
        {"shapes": [[1, 2, 3, 4], [1, 2, 3, 4]], "states": [{}]},
        "error",
        "response",
        "2 shape(s) but 1 state(s)",
    ),
    "tracker-sent-count": Case(
        "tracker",
        {"shapes": [[1, 2, 3, 4]], "states": [{}]},
        "error",
        "shapes",
        "1 shape(s) for the 2 object(s) sent",
        {"request": {"shapes": [None, None], "states": ["s0", "s1"]}},
    ),
    # tools-control.tsx checkTrackedStates reads only the states of an init_tracking answer
    "tracker-sent-count-init": Case(
        "tracker",
        {"shapes": [[1, 2, 3, 4]], "states": [{}, {}]},
        "warning",
        "shapes",
        "1 shape(s) for the 2 object(s) sent (harmless on this first call",
        {"request": {"shapes": [[1, 2, 3, 4], [5, 6, 7, 8]], "states": []}},
    ),
    # tools-control.tsx: response.shapes.map(trackedRectangleMapper) reads shape.points
    "tracker-null-shape": Case(
        "tracker",
        {"shapes": [None], "states": [{}]},
        "error",
        "shapes[0]",
        "fails ('Tracking error')",
        {"request": {"shapes": [None], "states": ["signed"]}},
    ),
    "tracker-legacy-object": Case(
        "tracker",
        {"shapes": [{"type": "rectangle", "points": [1, 2, 3, 4]}], "states": [{}]},
        "error",
        "shapes[0]",
        "declares no supported_shape_types",
        # a track call of an older UI, which still sends the shapes (views.py invoke)
        {"request": {"shapes": [[1, 2, 3, 4]], "states": ["signed"]}},
    ),
    "tracker-legacy-count": Case(
        "tracker", {"shapes": [[1, 2]], "states": [{}]}, "error", "shapes[0]", "got 2 numbers"
    ),
    "tracker-legacy-outside": Case(
        "tracker",
        {"shapes": [[1, 2, 3, 900]], "states": [{}]},
        "warning",
        "shapes[0]",
        "outside",
        {"image_size": IMAGE},
    ),
    "tracker-typed-list": Case(
        "tracker",
        {"shapes": [[1, 2, 3, 4]], "states": [{}]},
        "error",
        "shapes[0]",
        "declares supported_shape_types",
        {
            "request": {
                "shapes": [{"type": "rectangle", "points": [1, 2, 3, 4]}],
                "states": ["signed"],
            }
        },
    ),
    "tracker-typed-type": Case(
        "tracker",
        {"shapes": [{"type": "box", "points": [1, 2, 3, 4]}], "states": [{}]},
        "error",
        "shapes[0].type",
        "trackable shape type",
    ),
    "tracker-typed-type-changed": Case(
        "tracker",
        {"shapes": [{"type": "polygon", "points": [1, 2, 3, 4, 5, 2]}], "states": [{}]},
        "warning",
        "shapes[0].type",
        '"polygon" for a "rectangle"',
        {
            "request": {
                "shapes": [{"type": "rectangle", "points": [1, 2, 3, 4]}],
                "states": ["signed"],
            }
        },
    ),
    "tracker-typed-points-missing": Case(
        "tracker",
        {"shapes": [{"type": "rectangle"}], "states": [{}]},
        "error",
        "shapes[0].points",
        "missing",
    ),
    "tracker-typed-points": Case(
        "tracker",
        # tools-control.tsx trackedRectangleMapper boxes the (x, y) pairs; no serializer
        {"shapes": [{"type": "rectangle", "points": [1]}], "states": [{}]},
        "loss",
        "shapes[0].points",
        "1 number(s) are no such pairs",
    ),
    # tools-control.tsx trackedRectangleMapper: min/max of a mask's run lengths and box
    "tracker-typed-mask-boxed": Case(
        "tracker",
        {"shapes": [{"type": "mask", "points": [0, 4, 10, 10, 11, 11]}], "states": [{}]},
        "loss",
        "shapes[0].type",
        "CVAT's UI will move the object to a wrong box",
        {"request": {"shapes": [None], "states": ["signed"]}, "image_size": IMAGE},
    ),
    # tools-control.tsx trackedRectangleMapper: an ellipse is [cx, cy, rightX, topY]
    "tracker-typed-ellipse-boxed": Case(
        "tracker",
        {"shapes": [{"type": "ellipse", "points": [50, 50, 70, 40]}], "states": [{}]},
        "loss",
        "shapes[0].type",
        "a quarter of it",
        {"request": {"shapes": [None], "states": ["signed"]}},
    ),
    "tracker-typed-mask": Case(
        "tracker",
        {"shapes": [{"type": "mask", "points": [1, 0, 0, 1, 1]}], "states": [{}]},
        "loss",
        "shapes[0].points",
        "add up to 1 pixels",
    ),
    # reid
    "reid-not-list": Case("reid", {"matches": []}, "error", "response", "a JSON list of indices"),
    # views.py LambdaJob._call_reid: enumerate(matching) stops early, the rest stay unmatched
    "reid-length": Case(
        "reid",
        [0],
        "warning",
        "response",
        "1 item(s) for the 2 box(es) of boxes0: CVAT leaves the rest unmatched",
        {"request": {"boxes0": [{}, {}], "boxes1": [{}]}},
    ),
    "reid-not-int": Case("reid", ["0"], "error", "[0]", "index into boxes1 or -1"),
    # views.py LambdaJob._call_reid: `idx1 >= 0`, then boxes1[idx1]; True == 1 in Python
    "reid-bool": Case("reid", [True], "warning", "[0]", "true is taken as index 1"),
    "reid-float": Case("reid", [1.0], "error", "[0]", "is a float"),
    "reid-negative": Case("reid", [-3], "warning", "[0]", "say -1"),
    # views.py LambdaJob._call_reid: -1.0 >= 0 is False, so no match and no boxes1[-1.0]
    "reid-negative-float": Case("reid", [-1.0], "warning", "[0]", "-1.0 is taken as 'no match'"),
    # views.py LambdaJob._call_reid: boxes0[idx0] past boxes0 raises IndexError
    "reid-extra": Case(
        "reid",
        [0, 1],
        "error",
        "[1]",
        "boxes0 has 1 box(es): CVAT fails the job",
        {"request": {"boxes0": [{}], "boxes1": [{}, {}]}},
    ),
    "reid-out-of-range": Case(
        "reid",
        [2],
        "error",
        "[0]",
        "index 2 is out of range",
        {"request": {"boxes0": [{}], "boxes1": [{}, {}]}},
    ),
    # views.py LambdaJob._call_reid: the box sits in two paths; its second
    # box.pop("path_id") while building the tracks raises KeyError
    "reid-duplicate": Case(
        "reid",
        [1, 1],
        "error",
        "[1]",
        "boxes1[1] is already matched to boxes0[0]: CVAT links the box into both tracks and fails"
        ' the job building them (KeyError on its "path_id")',
    ),
}
CASES["interactor-legacy-bounds"] = Case(
    "interactor",
    {"mask": [[1]], "bounds": [5, 5, 5, 5]},
    "loss",
    "bounds",
    "places the mask at (0, 0)",
)


@pytest.mark.parametrize("name", sorted(CASES))
def test_finding(name: str) -> None:
    case = CASES[name]
    findings = validate(case.kind, case.body, **(case.kwargs or {}))
    matching = [f for f in findings if f.where == case.where and case.fragment in f.message]
    assert matching, f"{name}: no {case.where!r} finding with {case.fragment!r} in " + repr(
        [str(f) for f in findings]
    )
    assert matching[0].severity == case.severity
    version = (case.kwargs or {}).get("cvat_version", CVAT_VERSION)
    assert all(f.cvat_version == version for f in findings)


def test_finding_str_and_helpers() -> None:
    findings = validate("detector", [shape(points=[1, 2, 3, 4, 5, 6], confidence="high")])
    assert [str(f) for f in findings] == [
        "warning: [0].confidence: a string ('high') is not a number: CVAT ignores confidence,"
        " but the threshold check needs a number in [0, 1]",
        "[0].points: a rectangle needs 4 numbers, got 6: CVAT's serializer refuses it and"
        " fails the request",
    ]
    assert [f.severity for f in errors(findings)] == ["error"]
    assert [f.severity for f in warnings(findings)] == ["warning"]
    assert CVAT_VERSION == "2.73"


def test_label_message_matches_the_contract() -> None:
    f = only(validate("detector", [shape(label="car")], labels=["face"]))
    assert str(f) == (
        '[0].label: CVAT will drop this shape: "car" is not among the function\'s labels (face)'
    )


def test_labels_may_be_label_objects() -> None:
    @dataclass
    class Label:
        name: str

    assert validate("detector", [RECT], labels=[Label("face")]) == []
    assert only(validate("detector", [RECT], labels=[])).message.endswith("(none declared)")


def test_json_text_is_parsed_like_a_body() -> None:
    assert validate("detector", json.dumps([RECT])) == []
    assert validate("detector", json.dumps([RECT]).encode()) == []


def test_numeric_string_confidence_passes() -> None:
    # CVAT's own functions send str(score); CVAT ignores it and the harness reads it.
    assert validate("detector", [shape(confidence="0.25")]) == []


def test_unknown_kind_and_version() -> None:
    with pytest.raises(ValueError, match="unknown function kind 'classifier'"):
        validate("classifier", [])
    with pytest.raises(ValueError, match="not a CVAT version"):
        validate("detector", [], cvat_version="latest")
    assert (
        only(validate("detector", [shape(type="box")], cvat_version="v2.40.1")).cvat_version
        == "v2.40.1"
    )


# --- shapes_from_response ------------------------------------------------------------------


def test_detector_shapes_tolerate_malformed_items() -> None:
    body = [
        {"label": "face", "type": "rectangle", "points": [1, 2, 11, 22], "confidence": "0.5"},
        "garbage",
        {"label": "face", "type": "rectangle", "points": ["a"]},
        {"label": "face", "type": "mask", "mask": [0, 1, 1, 0, 10, 10, 11, 11]},
        {"label": "day", "type": "TAG"},
        {
            "label": "p",
            "type": "skeleton",
            "elements": [{"label": "a", "type": "points", "points": [5, 6]}, {"label": "b"}],
        },
    ]
    shapes = shapes_from_response("detector", body)
    assert [(s.label, s.type) for s in shapes] == [
        ("face", "rectangle"),
        ("face", "mask"),
        ("day", "tag"),
        ("p", "skeleton"),
    ]
    rect, mask, tag, skeleton = shapes
    assert rect.confidence == 0.5 and rect.bbox() == (1, 2, 11, 22)
    assert mask.encoding == MASK_BITMAP and mask.bbox() == (10, 10, 11, 11)
    assert mask.mask() == [[0, 1], [1, 0]]
    with pytest.raises(ValueError, match="no box"):
        tag.bbox()
    assert skeleton.bbox() == (5, 6, 5, 6) and len(skeleton.elements) == 1
    assert shapes_from_response("detector", {"not": "a list"}) == []


def test_ellipse_bbox() -> None:
    ellipse = Shape(label="", type="ellipse", points=[50, 50, 70, 40])
    assert ellipse.bbox() == (30, 40, 70, 60)


def test_interactor_shapes() -> None:
    current = shapes_from_response(
        "interactor", {"shapes": [{"type": "mask", "points": [2, 3, 1, 5, 5, 7, 6]}, 7]}
    )
    assert len(current) == 1 and current[0].encoding == MASK_RLE
    assert current[0].bbox() == (5, 5, 7, 6)
    assert current[0].mask() == [[0, 0, 1], [1, 1, 0]]
    legacy = only_shape(
        shapes_from_response("interactor", {"mask": [[0, 1], [1, 1]], "bounds": [9, 9, 10, 10]})
    )
    assert legacy.bbox() == (0, 0, 1, 1)  # CVAT 2.73 places it at (0, 0)
    assert legacy.mask() == [[0, 1], [1, 1]]
    polygon = only_shape(shapes_from_response("interactor", [[1, 2], [3, 4], [5, 0]]))
    assert polygon.type == "polygon" and polygon.bbox() == (1, 0, 5, 4)
    assert shapes_from_response("interactor", {"mask": [[0, 1], [1]]}) == []


def only_shape(shapes: list[Shape]) -> Shape:
    assert len(shapes) == 1
    return shapes[0]


def test_tracker_and_reid_shapes() -> None:
    shapes = shapes_from_response(
        "tracker",
        {
            "shapes": [
                [10, 10, 50, 60],
                [101, 99, 151, 99, 151, 149, 101, 149],
                None,
                {"type": "polygon", "points": [1, 1, 5, 1, 5, 5]},
            ],
            "states": [{}, {}, {}, {}],
        },
    )
    assert [(s.label, s.type) for s in shapes] == [
        ("", "rectangle"),
        ("", "rectangle"),
        ("", "polygon"),
    ]
    assert shapes[1].points == [101, 99, 151, 149]  # the box CVAT takes around a polygon
    assert shapes_from_response("reid", [0, 1]) == []
    with pytest.raises(ValueError, match="unknown function kind"):
        shapes_from_response("segmenter", [])


def test_rle_round_trip() -> None:
    bitmap = [0, 0, 1, 1, 1, 0, 1]
    assert bitmap_to_rle(bitmap) == [2, 3, 1, 1]
    assert bitmap_to_rle([1, 1, 0]) == [0, 2, 1]
    assert rle_to_bitmap(bitmap_to_rle(bitmap), len(bitmap)) == bitmap
    body = {"shapes": [{"type": "mask", "points": bitmap_to_rle(bitmap) + [0, 0, 6, 0]}]}
    assert validate("interactor", body) == []


def test_mask_helpers_refuse_what_is_not_a_mask() -> None:
    with pytest.raises(ValueError, match="no box"):
        Shape(label="", type="mask", points=[1, 2], encoding=MASK_RLE).bbox()
    with pytest.raises(ValueError, match="not a mask"):
        Shape(label="", type="rectangle", points=[1, 2, 3, 4]).mask()

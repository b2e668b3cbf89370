"""What CVAT 2.73 survives from interactors, trackers and re-id functions: answers the rules
must not fail, each next to the CVAT code that takes it."""

from __future__ import annotations

import json
from typing import Any

import pytest

from harness.cvat import errors, validate
from harness.cvat.findings import failing, warnings

MASK = [0, 4, 0, 0, 1, 1]  # a 2x2 box all set at (0, 0): run lengths + [xtl, ytl, xbr, ybr]
INIT = {"shapes": [{"type": "rectangle", "points": [1, 2, 30, 40]}], "states": []}
TRACK = {"shapes": [None], "states": ["signed"]}


def test_interactor_null_attribute_after_a_bad_one_is_never_read() -> None:
    # cvat-core lambda-manager.ts call: attributes.every(...) stops at the first that fails
    # (spec_id "0" is no number), so the null is not reached; the shape gets [], and since
    # tools-control.tsx reads nothing of them but a confidence, that is only a warning.
    body = {"shapes": [{"points": MASK, "attributes": [{"spec_id": "0", "value": "1"}, None]}]}
    findings = validate("interactor", body)
    assert failing(findings) == []
    assert "[0] is an object" in warnings(findings)[0].message


def test_interactor_boolean_spec_id_is_no_number() -> None:
    # cvat-core lambda-manager.ts call: typeof true is 'boolean', not 'number' -> [].
    body = {"shapes": [{"points": MASK, "attributes": [{"spec_id": True, "value": "1"}]}]}
    found = validate("interactor", body)
    assert [(f.severity, f.code) for f in found] == [("warning", "interactor.attributes")]


def test_tracker_init_answer_shapes_are_not_read() -> None:
    # cvat-ui tools-control.tsx checkTrackedStates: of the init_tracking answer only
    # `states` is read, so null, missing or boxed shapes there break nothing.
    for body in (
        {"shapes": [None], "states": [{}]},
        {"states": [{}]},
        {"shapes": [{"type": "mask", "points": MASK}], "states": [{}]},
    ):
        assert failing(validate("tracker", body, request=INIT)) == [], body


def test_tracker_rectangle_answer_on_track_is_clean() -> None:
    # tools-control.tsx trackedRectangleMapper: a rectangle's points are its box.
    body = {"shapes": [{"type": "rectangle", "points": [2, 3, 31, 41]}], "states": [{}]}
    assert validate("tracker", body, request=TRACK) == []


@pytest.mark.parametrize(
    "body",
    [
        [0, -1],  # an extra -1: views.py _call_reid skips it before reading boxes0[1]
        [],  # nothing matched: every box starts its own track
        [-0.5],  # -0.5 >= 0 is False: no match
        [False],  # boxes1[False] is boxes1[0]
    ],
    ids=["extra-minus-one", "empty", "negative-float", "false"],
)
def test_reid_answers_cvat_takes(body: list[Any]) -> None:
    # cvat/apps/lambda_manager/views.py LambdaJob._call_reid:
    # `for idx0, idx1 in enumerate(matching): if idx1 >= 0: ... boxes1[idx1]`
    request = {"boxes0": [{}], "boxes1": [{}]}
    assert errors(validate("reid", body, request=request)) == []


def test_sdk_adapter_reads_an_empty_obj_bbox_as_no_box() -> None:
    # cvat-ui tools-control.tsx onInteraction sends obj_bbox [] when no box is drawn.
    pytest.importorskip("cvat_sdk.auto_annotation")
    from types import SimpleNamespace

    from harness.sdk.nuclio_main import prompts_from

    spec = SimpleNamespace(min_pos_points=1, min_neg_points=0, min_bounding_boxes=None)
    prompts = prompts_from({"pos_points": [[1, 2]], "neg_points": [], "obj_bbox": []}, spec)
    assert prompts.bounding_box is None


def test_interactor_empty_type_is_not_a_mask() -> None:
    # cvat-core lambda-manager.ts call: `type: item.type ?? ShapeType.MASK` -- only a missing
    # or null type becomes a mask; "" is kept as "" and the UI drops the shape
    for missing in ({}, {"type": None}):
        assert validate("interactor", {"shapes": [{"points": MASK, **missing}]}) == []
    found = validate("interactor", {"shapes": [{"type": "", "points": MASK}]})
    assert [(f.severity, f.where) for f in found] == [
        ("loss", "shapes[0].type"),
        ("warning", "shapes"),
    ]


@pytest.mark.parametrize("body", [{}, json.dumps({}), json.dumps("")])
def test_reid_empty_object_or_string_is_no_matches(body: Any) -> None:
    # views.py LambdaJob._call_reid: `for idx0, idx1 in enumerate(matching)` iterates nothing
    found = validate("reid", body)
    assert [f.severity for f in found] == ["warning"] and "no matches" in found[0].message


def test_a_number_too_large_for_a_float_is_reported_not_raised() -> None:
    # JSON allows any integer; math.isfinite(10**400) raises OverflowError
    for kind, body in (
        ("detector", [{"label": "face", "type": "rectangle", "points": [0, 0, 1, 10**400]}]),
        ("tracker", {"shapes": [[0, 0, 1, 10**400]], "states": [{}]}),
    ):
        assert errors(validate(kind, body)), kind
    # JSON.parse reads it as Infinity, which Int32Array.from stores as 0
    found = validate("interactor", {"shapes": [{"points": [10**400, 0, 0, 0, 0, 0]}]})
    assert "read by CVAT's UI as 0" in failing(found)[0].message

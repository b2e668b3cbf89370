"""A detector's answer judged field by field as CVAT judges it, against the labels the
function declares: one violating answer per rule, its verdict (error: CVAT fails the
request; loss: CVAT drops or alters it silently; warning), its stable code and its words.

Sources, cvat-ai/cvat v2.73.0 (commit 7972cb4f2ad87c5f46fb081d4b33bb0f265ce06f, "Prepare
release v2.73.0"; CVAT 2.73 is the default version): VIEWS = ``cvat/apps/lambda_manager/views.py``
(``LambdaFunction.invoke`` with ``check_attr_value`` / ``transform_attributes``,
``DetectionResultConverter._parse_anno``); SERIALIZERS = ``cvat/apps/engine/serializers.py``.
Each case names the function it follows. Where an older release judged differently, the
older verdict is tested with ``cvat_version`` set to it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import pytest

from harness.cvat import validate
from harness.cvat.findings import failing
from harness.nuclio.spec import parse_labels
from harness.suite.checks.schema import owner

# The labels of CVAT's own face-detection-0205 (attributes) and mmpose hrnet32 (skeleton)
# functions, plus a checkbox, a text, a radio and a polygon label.
SPEC = json.dumps(
    [
        {
            "id": 0,
            "name": "face",
            "type": "rectangle",
            "attributes": [
                {"name": "age", "input_type": "number", "values": ["0", "150", "1"]},
                {"name": "size", "input_type": "number", "values": ["0", "100", "5"]},
                {"name": "score", "input_type": "number", "values": ["0", "1", "0.1"]},
                {"name": "flat", "input_type": "number", "values": ["0", "10", "0"]},
                {"name": "gender", "input_type": "select", "values": ["female", "male"]},
                {
                    "name": "emotion",
                    "input_type": "select",
                    "values": ["neutral", "happy", "sad", "surprise", "anger"],
                },
                {"name": "glasses", "input_type": "checkbox", "values": ["false"]},
                {"name": "note", "input_type": "text", "values": [""]},
                {"name": "pose", "input_type": "radio", "values": ["frontal", "profile"]},
            ],
        },
        {"id": 1, "name": "road", "type": "polygon"},
        {
            "id": 2,
            "name": "body",
            "type": "skeleton",
            "sublabels": [
                {"id": 3, "name": "nose", "type": "points"},
                {"id": 4, "name": "left-eye", "type": "points"},
            ],
            "svg": '<circle r="1" cx="1" cy="1" data-label-id="3" />',
        },
    ]
)
LABELS = parse_labels(SPEC)
FACE = {"label": "face", "type": "rectangle", "points": [10, 20, 110, 220], "confidence": "0.9"}


def face(*attributes: tuple[str, Any], **fields: Any) -> dict[str, Any]:
    attrs = [{"name": n, "value": v} for n, v in attributes]
    return {**FACE, "attributes": attrs, **fields}


def element(label: str, x: float, y: float, outside: Any = 0) -> dict[str, Any]:
    return {"label": label, "type": "points", "points": [x, y], "outside": outside}


def body(*elements: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"label": "body", "type": "skeleton", "elements": list(elements), **fields}


def judge(answer: Any, **kw: Any) -> list[Any]:
    return validate("detector", answer, labels=LABELS, image_size=(640, 480), **kw)


def test_cvat_face_detection_0205_answer_is_clean() -> None:
    # serverless/openvino/omz/intel/face-detection-0205: str(age), a select value, str score
    answer = [face(("age", "35"), ("gender", "male"), ("emotion", "happy"))]
    assert judge(answer) == []


def test_cvat_hrnet32_skeleton_answer_is_clean() -> None:
    # serverless/pytorch/mmpose/hrnet32/nuclio/main.py: elements with outside 0 / 1 and a
    # confidence as text, one element per sublabel
    answer = [body(element("nose", 50, 60), element("left-eye", 40, 50, 1), confidence="0.8")]
    assert judge(answer) == []


def test_every_other_field_form_is_clean() -> None:
    answer = [
        face(("glasses", "true"), ("note", "anything at all"), ("pose", "profile")),
        {"label": "road", "type": "mask", "mask": [0, 1, 1, 0, 5, 5, 6, 6]},
        {"label": "face", "type": "rectangle", "points": [50, 50, 80, 90], "rotation": 359.5},
        {"label": "face", "type": "tag", "attributes": {}},
        {"label": "face", "type": "tag", "attributes": ""},
        {"label": "face", "type": "tag", "attributes": []},
        # a boolean mask's tolist(): mask_to_rle reads it as 0/1
        {"label": "road", "type": "mask", "mask": [False, True, True, False, 5, 5, 6, 6]},
        {**FACE, "group_id": 3, "outside": False, "occluded": False},
    ]
    assert judge(answer) == []


@dataclass(frozen=True)
class Rule:
    answer: Any
    severity: str
    where: str
    code: str
    words: str
    follows: str  # the source line the verdict follows: file and function at the commit


RULES: dict[str, Rule] = {
    # --- top-level forms: VIEWS LambdaFunction.invoke, `for item in response`
    "empty-object": Rule(
        {}, "warning", "response", "response.form", "iterates it as no", "VIEWS invoke"
    ),
    "empty-json-string": Rule(
        json.dumps(""), "warning", "response", "response.form", "no shapes", "VIEWS invoke"
    ),
    "double-encoded": Rule(
        json.dumps(json.dumps([FACE])),
        "error",
        "response",
        "response.form",
        "encoded twice",
        "VIEWS invoke: iterating a str gives characters, item['label'] fails",
    ),
    "null": Rule(None, "error", "response", "response.form", "a JSON list", "VIEWS invoke"),
    "object-with-keys": Rule(
        {"shapes": []}, "error", "response", "detector.schema", "a JSON list", "VIEWS invoke"
    ),
    # --- labels: VIEWS invoke `if item_label not in mapping: continue`
    "label-undeclared": Rule(
        [{**FACE, "label": "car"}],
        "loss",
        "[0].label",
        "label.unknown",
        'CVAT will drop this shape: "car" is not among',
        "VIEWS invoke",
    ),
    "label-number": Rule(
        [{**FACE, "label": 3}],
        "loss",
        "[0].label",
        "label.unknown",
        "CVAT will drop this shape",
        "VIEWS invoke",
    ),
    # --- attributes: VIEWS invoke.transform_attributes / check_attr_value
    "attr-undeclared": Rule(
        [face(("hair", "red"))],
        "loss",
        "[0].attributes[0].name",
        "attr.unknown",
        "CVAT will drop this attribute: 'hair' is not declared",
        "VIEWS transform_attributes",
    ),
    "attr-number-decimal": Rule(
        [face(("age", "33.5"))],
        "loss",
        "[0].attributes[0].value",
        "attr.value",
        "CVAT will store the attribute's default value instead of age='33.5'",
        "VIEWS check_attr_value: int(value) raises ValueError, returns False",
    ),
    "attr-number-negative": Rule(
        [face(("age", "-1"))],
        "loss",
        "[0].attributes[0].value",
        "attr.range",
        "CVAT will store the attribute's default value instead of age='-1': outside the"
        " declared 0..150",
        "VIEWS check_attr_value: min_value <= value_num <= max_value",
    ),
    "attr-number-null": Rule(
        [face(("age", None))],
        "error",
        "[0].attributes[0].value",
        "attr.value-type",
        "raises TypeError",
        "VIEWS check_attr_value: int(None) raises TypeError, which is not caught",
    ),
    "attr-number-not-text": Rule(
        [face(("age", 33))],
        "warning",
        "[0].attributes[0].value",
        "attr.value-type",
        "CVAT stores str(value) ('33')",
        "VIEWS check_attr_value: int(33); SERIALIZERS AttributeValSerializer: str(value)",
    ),
    "attr-number-range": Rule(
        [face(("age", "200"))],
        "loss",
        "[0].attributes[0].value",
        "attr.range",
        "outside the declared 0..150",
        "VIEWS check_attr_value: min_value <= value_num <= max_value",
    ),
    "attr-number-step": Rule(
        [face(("size", "7"))],
        "loss",
        "[0].attributes[0].value",
        "attr.range",
        "not on the declared step 5 from 0",
        "VIEWS check_attr_value: (value_num - min_value) % step == 0",
    ),
    "attr-number-values-not-whole": Rule(
        [face(("score", "1"))],
        "error",
        "[0].attributes[0].value",
        "attr.spec",
        "three whole numbers",
        'VIEWS check_attr_value: map(int, db_attr["values"].split("\\n")) raises ValueError',
    ),
    "attr-number-step-zero": Rule(
        [face(("flat", "3"))],
        "error",
        "[0].attributes[0].value",
        "attr.spec",
        "step 0",
        "VIEWS check_attr_value: (value_num - min_value) % 0 raises ZeroDivisionError",
    ),
    "attr-number-step-zero-out-of-range": Rule(
        [face(("flat", "30"))],
        "loss",
        "[0].attributes[0].value",
        "attr.range",
        "outside the declared 0..10",
        "VIEWS check_attr_value: `min <= n <= max and ...` stops before % step",
    ),
    "attr-name-a-list": Rule(
        [face((["age"], "3"))],  # type: ignore[arg-type]
        "error",
        "[0].attributes[0].name",
        "attr.form",
        "is not text",
        "VIEWS transform_attributes: `attr['name'] not in attr_mapping` raises TypeError",
    ),
    "attr-text-too-long": Rule(
        [face(("note", "x" * 4097))],
        "error",
        "[0].attributes[0].value",
        "attr.value",
        "at most 4096",
        "SERIALIZERS AttributeValSerializer: CharField(max_length=4096), raise_exception=True",
    ),
    "attr-text-nul": Rule(
        [face(("note", "a\x00b"))],
        "error",
        "[0].attributes[0].value",
        "attr.value",
        "NUL character",
        "SERIALIZERS AttributeValSerializer.value: CharField, ProhibitNullCharactersValidator",
    ),
    "attr-text-surrogate": Rule(
        [face(("note", "a\ud800"))],
        "error",
        "[0].attributes[0].value",
        "attr.value",
        "lone surrogate U+D800",
        "SERIALIZERS AttributeValSerializer.value: CharField, ProhibitSurrogateCharactersValidator",
    ),
    "attr-text-trimmed": Rule(
        [face(("note", "  hi \n"))],
        "loss",
        "[0].attributes[0].value",
        "attr.value",
        "CVAT will store this attribute trimmed: note='  hi \\n' is stored as 'hi'",
        "SERIALIZERS AttributeValSerializer.value: CharField(trim_whitespace=True)",
    ),
    "attr-text-long-until-trimmed": Rule(
        [face(("note", "x" * 4096 + "   "))],
        "loss",
        "[0].attributes[0].value",
        "attr.value",
        "CVAT will store this attribute trimmed",
        "SERIALIZERS AttributeValSerializer.value: trimmed, then max_length=4096",
    ),
    "attr-number-spaces": Rule(
        [face(("age", " 35 "))],
        "warning",
        "[0].attributes[0].value",
        "attr.value",
        "is stored as '35'",
        "VIEWS check_attr_value: int(' 35 '); SERIALIZERS CharField trims it",
    ),
    "attr-checkbox": Rule(
        [face(("glasses", "True"))],
        "loss",
        "[0].attributes[0].value",
        "attr.value",
        'keeps only "true" or "false"',
        "VIEWS check_attr_value: checkbox",
    ),
    "attr-select-value": Rule(
        [face(("gender", "other"))],
        "loss",
        "[0].attributes[0].value",
        "attr.value",
        "not one of the select values ('female', 'male')",
        "VIEWS check_attr_value: select",
    ),
    "attr-select-substring": Rule(
        [face(("gender", "fem"))],
        "warning",
        "[0].attributes[0].value",
        "attr.value",
        "tests a substring",
        "VIEWS check_attr_value: `value in db_attr['values']`, a str",
    ),
    "attr-select-not-text": Rule(
        [face(("gender", 1))],
        "error",
        "[0].attributes[0].value",
        "attr.value-type",
        "fails the request",
        "VIEWS check_attr_value: `in` on a str",
    ),
    "attr-radio-value": Rule(
        [face(("pose", "back"))],
        "loss",
        "[0].attributes[0].value",
        "attr.value",
        "not one of the radio values",
        "VIEWS check_attr_value: radio",
    ),
    "attr-text-not-text": Rule(
        [face(("note", 5))],
        "warning",
        "[0].attributes[0].value",
        "attr.value-type",
        "stored as its text",
        "SERIALIZERS AttributeValSerializer.to_internal_value: str()",
    ),
    "attr-no-name": Rule(
        [{**FACE, "attributes": [{"value": "1"}]}],
        "error",
        "[0].attributes[0].name",
        "attr.form",
        "missing",
        "VIEWS transform_attributes: attr['name']",
    ),
    "attr-no-value": Rule(
        [{**FACE, "attributes": [{"name": "age"}]}],
        "error",
        "[0].attributes[0].value",
        "attr.form",
        "missing",
        "VIEWS check_attr_value(attr['value'])",
    ),
    "attr-object": Rule(
        [{**FACE, "attributes": {"age": "3"}}],
        "error",
        "[0].attributes",
        "attr.form",
        "must be a list",
        "VIEWS transform_attributes: iterating a dict gives its keys",
    ),
    # --- rotation: VIEWS parse_anno copies it for rectangle/ellipse; SERIALIZERS
    # ShapeSerializer.rotation = FloatField(min_value=0, max_value=360)
    "rotation-range": Rule(
        [{**FACE, "rotation": 400}],
        "error",
        "[0].rotation",
        "shape.rotation",
        "outside 0..360",
        "SERIALIZERS ShapeSerializer.rotation",
    ),
    "rotation-negative": Rule(
        [{**FACE, "rotation": -5}],
        "error",
        "[0].rotation",
        "shape.rotation",
        "outside 0..360",
        "SERIALIZERS ShapeSerializer.rotation",
    ),
    "rotation-text": Rule(
        [{**FACE, "rotation": "90"}],
        "warning",
        "[0].rotation",
        "shape.rotation",
        "read as 90 degrees",
        "SERIALIZERS ShapeSerializer.rotation: FloatField reads float('90')",
    ),
    "rotation-not-a-number": Rule(
        [{**FACE, "rotation": "ninety"}],
        "error",
        "[0].rotation",
        "shape.rotation",
        "must be a number of degrees",
        "SERIALIZERS ShapeSerializer.rotation: FloatField, float('ninety') fails",
    ),
    "rotation-null": Rule(
        [{**FACE, "rotation": None}],
        "error",
        "[0].rotation",
        "shape.rotation",
        "must be a number of degrees",
        "VIEWS _parse_anno: anno.get('rotation', 0); FloatField refuses null",
    ),
    "group-id-text": Rule(
        [{**FACE, "group_id": "3"}],
        "warning",
        "[0].group_id",
        "shape.group",
        "read as 3",
        "SERIALIZERS AnnotationSerializer.group: IntegerField reads int('3')",
    ),
    "group-id-fraction": Rule(
        [{**FACE, "group_id": 2.5}],
        "error",
        "[0].group_id",
        "shape.group",
        "non-negative integer",
        "SERIALIZERS AnnotationSerializer.group: IntegerField, int('2.5') fails",
    ),
    "group-key": Rule(
        [{**FACE, "group": 2}],
        "loss",
        "[0].group",
        "shape.group",
        "CVAT will drop this group (a number (2)): CVAT reads group_id",
        "VIEWS _parse_anno: anno['group_id'] if 'group_id' in anno else None",
    ),
    "group-id-on-tag": Rule(
        [{"label": "face", "type": "tag", "group_id": -1}],
        "loss",
        "[0].group_id",
        "shape.group",
        "CVAT will drop this group_id: it keeps no group for tags",
        "VIEWS _parse_anno: a tag's group is None",
    ),
    "occluded": Rule(
        [{**FACE, "occluded": True}],
        "loss",
        "[0].occluded",
        "shape.occluded",
        "CVAT will drop this occluded",
        "VIEWS _parse_anno: 'occluded': False",
    ),
    "z-order": Rule(
        [{**FACE, "z_order": 2}],
        "loss",
        "[0].z_order",
        "shape.z_order",
        "CVAT will drop this z_order (a number (2))",
        "VIEWS _parse_anno: 'z_order': 0",
    ),
    "rectangle-inverted": Rule(
        [{**FACE, "points": [110, 220, 10, 20]}],
        "warning",
        "[0].points",
        "shape.points",
        "stores the corners as sent",
        "SERIALIZERS ShapeSerializer.validate: only num_points == 4",
    ),
    "rectangle-count": Rule(
        [{**FACE, "points": [1, 2, 3]}],
        "error",
        "[0].points",
        "shape.points",
        "a rectangle needs 4 numbers, got 3: CVAT's serializer refuses it",
        "SERIALIZERS ShapeSerializer.validate: bad_num_points_unless(num_points == 4)",
    ),
    "mask-bitmap-length": Rule(
        [{"label": "road", "type": "mask", "mask": [1, 0, 1, 0, 0, 1, 1]}],
        "loss",
        "[0].mask",
        "mask.geometry",
        "CVAT will store this mask wrong: the bitmap has 3 values but the box is 2x2 = 4",
        "VIEWS _parse_anno: mask_to_rle(bitmap) + box, never compared",
    ),
    "mask-box-fraction": Rule(
        [{"label": "road", "type": "mask", "mask": [1, 0, 0, 0.5, 0]}],
        "warning",
        "[0].mask",
        "mask.geometry",
        "is not whole pixel indices: CVAT stores it as sent",
        "VIEWS _parse_anno: box copied as sent; SERIALIZERS OptimizedFloatListField takes floats;"
        " measured on CVAT 2.73.0 (tests/cvat_server/test_verdicts.py): stored and answered as"
        " sent, so no loss",
    ),
    "mask-box-reversed": Rule(
        [{"label": "road", "type": "mask", "mask": [1, 5, 5, 4, 4]}],
        "loss",
        "[0].mask",
        "mask.geometry",
        "CVAT will store this mask with no pixels: its box [5, 5, 4, 4] ends before it starts",
        "VIEWS _parse_anno: mask_to_rle(bitmap) + box, never compared; measured on CVAT 2.73.0:"
        " the job finishes and the task holds the runs with the reversed box",
    ),
    "mask-all-zero": Rule(
        [{"label": "road", "type": "mask", "mask": [0, 0, 0, 0, 0, 0, 1, 1]}],
        "warning",
        "[0].mask",
        "mask.geometry",
        "an all-zero bitmap: CVAT stores an empty mask: nothing to see in the task",
        "VIEWS _parse_anno: mask_tools.mask_to_rle of the fork CVAT pins encodes all zeros as"
        " one run of 0s (tests/test_fork_mask_rules.py runs cvat-ai/datumaro e612d1bf's)",
    ),
    "mask-box-only": Rule(
        [{"label": "road", "type": "mask", "mask": [0, 0, 1, 1]}],
        "error",
        "[0].mask",
        "mask.geometry",
        "no bitmap before the box",
        "VIEWS _parse_anno: mask_to_rle of an empty bitmap raises IndexError in the fork"
        " (tests/test_fork_mask_rules.py runs cvat-ai/datumaro e612d1bf's)",
    ),
    "mask-several-values": Rule(
        [{"label": "road", "type": "mask", "mask": [1, 2, 2, 1, 0, 0, 1, 1]}],
        "loss",
        "[0].mask",
        "mask.geometry",
        "CVAT will store this mask wrong: its bitmap holds several non-zero values (1, 2)",
        "VIEWS _parse_anno: datumaro mask_to_rle starts a run wherever the value changes;"
        " measured on CVAT 2.73.0: the task's runs differ from the bitmap's set pixels",
    ),
    "rotation-on-polygon": Rule(
        [{"label": "road", "type": "polygon", "points": [1, 1, 9, 1, 9, 9], "rotation": 30}],
        "loss",
        "[0].rotation",
        "shape.rotation",
        "CVAT will drop this rotation",
        "VIEWS parse_anno: rotation only for rectangle, ellipse",
    ),
    "outside-on-tag": Rule(
        [{"label": "face", "type": "tag", "outside": "maybe"}],
        "loss",
        "[0].outside",
        "shape.outside",
        "CVAT will drop this outside: it keeps no outside for tags",
        "VIEWS _parse_anno: a tag has no outside",
    ),
    "outside-text": Rule(
        [{**FACE, "outside": "False"}],
        "warning",
        "[0].outside",
        "shape.outside",
        "read as false",
        "SERIALIZERS ShapeSerializer.outside: BooleanField lower-cases text",
    ),
    "outside-not-boolean": Rule(
        [{**FACE, "outside": "maybe"}],
        "error",
        "[0].outside",
        "shape.outside",
        "must be true or false",
        "SERIALIZERS ShapeSerializer.outside (BooleanField)",
    ),
    # --- label types and skeletons
    "elements-on-non-skeleton": Rule(
        [{**FACE, "elements": [element("nose", 1, 1)]}],
        "error",
        "[0].elements",
        "skeleton.elements-on-non-skeleton",
        "is not a skeleton",
        "VIEWS invoke: mapping[item_label]['sublabels']",
    ),
    "skeleton-for-rectangle-label": Rule(
        [{"label": "face", "type": "skeleton"}],
        "error",
        "[0].type",
        "skeleton.label-type",
        "reads the label's sublabels",
        "VIEWS parse_anno: label['sublabels']",
    ),
    "rectangle-for-skeleton-label": Rule(
        [{"label": "body", "type": "rectangle", "points": [1, 1, 5, 5]}],
        "warning",
        "[0].type",
        "label.type",
        "for skeleton label 'body'",
        "VIEWS labels_compatible / parse_anno",
    ),
    "type-differs-from-label": Rule(
        [{"label": "road", "type": "rectangle", "points": [1, 1, 5, 5]}],
        "warning",
        "[0].type",
        "label.type",
        "declared 'polygon'",
        "VIEWS parse_anno: shape type taken as sent",
    ),
    "skeleton-unknown-element": Rule(
        [body(element("nose", 5, 5), element("left-eye", 4, 4), element("tail", 9, 9))],
        "loss",
        "[0].elements[2].label",
        "skeleton.unknown-element",
        "CVAT will drop this element: 'tail' is not a sublabel of skeleton 'body'",
        "VIEWS invoke: elements filtered by `x['label'] in sublabels`",
    ),
    "skeleton-missing-element": Rule(
        [body(element("nose", 5, 5))],
        "warning",
        "[0].elements",
        "skeleton.missing-element",
        "adds each missing element as an outside point",
        "VIEWS parse_anno._map",
    ),
    "skeleton-all-outside": Rule(
        [body(element("nose", 5, 5, 1), element("left-eye", 4, 4, True))],
        "loss",
        "[0].elements",
        "skeleton.all-outside",
        "CVAT will drop this shape: every element",
        "VIEWS parse_anno: `if all(element['outside'] ...): return None`",
    ),
    "skeleton-all-outside-as-text": Rule(
        [body(element("nose", 5, 5, "false"), element("left-eye", 4, 4, "0"))],
        "loss",
        "[0].elements",
        "skeleton.all-outside",
        "CVAT tests outside as sent, so a string ('false') counts as outside",
        "VIEWS _parse_anno: all(element['outside'] ...) on the raw values",
    ),
    "skeleton-duplicate-element": Rule(
        [body(element("nose", 5, 5), element("left-eye", 4, 4), element("nose", 6, 6))],
        "loss",
        "[0].elements[2].label",
        "skeleton.duplicate-element",
        "CVAT will drop this element: elements[0] is already 'nose'",
        "VIEWS _parse_anno._map: next(filter(label_id == sublabel id)) keeps the first",
    ),
    "skeleton-own-points": Rule(
        [body(element("nose", 5, 5), element("left-eye", 4, 4), points=[5, 5])],
        "error",
        "[0].points",
        "skeleton.points",
        "no points of its own",
        "SERIALIZERS ShapeSerializer.validate: bad_num_points_unless(num_points == 0)",
    ),
    "skeleton-element-rectangle": Rule(
        [
            body(
                element("nose", 5, 5) | {"type": "rectangle", "points": [1, 1, 4, 4]},
                element("left-eye", 4, 4),
            )
        ],
        "warning",
        "[0].elements[0].type",
        "skeleton.element-type",
        "stores it so",
        "SERIALIZERS SubLabeledShapeSerializer: the element's own type's point count",
    ),
    "skeleton-element-tag": Rule(
        [body(element("nose", 5, 5) | {"type": "tag"}, element("left-eye", 4, 4))],
        "error",
        "[0].elements[0].type",
        "skeleton.element-type",
        "fails the request",
        "VIEWS _parse_anno: a tag element has no 'points' for the centre",
    ),
    "skeleton-element-one-number": Rule(
        [body(element("nose", 5, 5) | {"points": [5]}, element("left-eye", 4, 4))],
        "error",
        "[0].elements[0].points",
        "skeleton.elements",
        "points[0] and points[1]",
        "VIEWS _parse_anno: center += element['points'][1] raises IndexError",
    ),
    "skeleton-only-unknown-elements": Rule(
        [body(element("tail", 5, 5))],
        "loss",
        "[0].elements",
        "skeleton.all-outside",
        "no element is left",
        "VIEWS invoke + parse_anno",
    ),
    "skeleton-element-without-label": Rule(
        [body({"type": "points", "points": [1, 1]})],
        "error",
        "[0].elements[0].label",
        "skeleton.elements",
        "reads every element's label",
        "VIEWS invoke: x['label']",
    ),
    "skeleton-without-elements": Rule(
        [{"label": "body", "type": "skeleton"}],
        "error",
        "[0].elements",
        "skeleton.elements",
        "missing",
        "VIEWS parse_anno: anno['elements']",
    ),
    "skeleton-element-attribute": Rule(
        [
            body(
                element("nose", 5, 5) | {"attributes": [{"name": "x", "value": "1"}]},
                element("left-eye", 4, 4),
            )
        ],
        "loss",
        "[0].elements[0].attributes[0].name",
        "attr.unknown",
        "not declared for label 'nose'",
        "VIEWS invoke: transform_attributes for elements",
    ),
}


@pytest.mark.parametrize("name", sorted(RULES))
def test_rule(name: str) -> None:
    rule = RULES[name]
    found = judge(rule.answer)
    hits = [f for f in found if f.where == rule.where and f.code == rule.code]
    assert hits, f"{name} ({rule.follows}): nothing at {rule.where} {rule.code}: " + repr(
        [(f.severity, f.code, str(f)) for f in found]
    )
    assert hits[0].severity == rule.severity, str(hits[0])
    assert rule.words in hits[0].message, str(hits[0])
    assert hits[0].cvat_version == "2.73"


@pytest.mark.parametrize(
    ("value", "severity", "code", "words"),
    [
        ("33.5", "loss", "attr.value", "str.isnumeric()"),
        ("-1", "loss", "attr.value", "no sign"),
        (33, "error", "attr.value-type", "calls value.isnumeric()"),
        ("200", "warning", "attr.range", "stores it unchecked"),
    ],
)
def test_number_attributes_before_2_35(value: Any, severity: str, code: str, words: str) -> None:
    # VIEWS check_attr_value before cvat-ai/cvat PR #9285 (commit 7dfd71fc5, first in v2.35.0):
    # `return value.isnumeric()`, no range test
    (found,) = judge([face(("age", value))], cvat_version="2.34")
    assert (found.severity, found.code) == (severity, code), str(found)
    assert words in found.message and found.cvat_version == "2.34"


def test_number_attributes_clean_in_both_versions() -> None:
    for version in ("2.34", "2.73"):
        assert judge([face(("age", "35"), ("size", "10"))], cvat_version=version) == []


def test_a_dropped_shape_is_not_judged_further() -> None:
    # VIEWS invoke: `if item_label not in mapping: continue` before anything else is read,
    # so neither its bad points nor its bad type matter to CVAT
    found = judge([{**FACE, "label": "car", "points": [1, 2, 3]}])
    assert [(f.severity, f.code) for f in found] == [("loss", "label.unknown")]
    found = judge([{**FACE, "label": "car", "type": "Rectangle", "rotation": "x"}])
    assert [(f.severity, f.code) for f in found] == [("loss", "label.unknown")]


@pytest.mark.parametrize(
    ("answer", "where", "severity", "code"),
    [
        ([{**FACE, "points": [1, 2, 3]}], "[0].points", "warning", "shape.points"),
        (
            [{"label": "road", "type": "polygon", "points": [1, 2, 3, 4]}],
            "[0].points",
            "warning",
            "shape.points",
        ),
        ([{"label": "road", "type": "polygon"}], "[0].points", "warning", "shape.points"),
        (  # an element's points[0] is read for the skeleton's centre: a missing one fails
            [body(element("nose", 5, 5), {"label": "left-eye", "type": "points"})],
            "[0].elements[1].points",
            "error",
            "detector.schema",
        ),
        (
            [body(element("nose", 5, 5), element("left-eye", 4, 4), points=[5, 5])],
            "[0].points",
            "loss",
            "skeleton.points",
        ),
    ],
)
def test_point_counts_before_2_40(answer: Any, where: str, severity: str, code: str) -> None:
    # SERIALIZERS ShapeSerializer.validate came with cvat-ai/cvat PR #9556 (commit 6094e32e2,
    # first in v2.40.0); CVAT 2.39 stored the shape with the count it had, as sent (a missing
    # points list as []: views.py parse_anno, anno.get("points", [])), and reads a skeleton back
    # without points of its own (dataset_manager/task.py _init_shapes_from_db). Measured on
    # CVAT 2.22.0 by tests/cvat_server/test_verdicts.py (points-count, polygon-two-points,
    # points-missing, skeleton-own-points)
    found = [f for f in judge(answer, cvat_version="2.39") if f.where == where]
    assert [(f.severity, f.code) for f in found] == [(severity, code)], [str(f) for f in found]
    assert [f.severity for f in judge(answer) if f.where == where] == ["error"]


def test_text_attribute_checks_hold_before_2_35_too() -> None:
    # the task-wide auto-annotation path has validated answers with LabeledDataSerializer(...)
    # .is_valid(raise_exception=True) since PR #1767 (views.py, before and after PR #9285)
    found = judge([face(("note", "a\x00b"))], cvat_version="2.34")
    assert [(f.severity, f.code) for f in found] == [("error", "attr.value")]


def test_elements_a_skeleton_keeps_decide_whether_it_is_dropped() -> None:
    # VIEWS _parse_anno._map keeps the first element per sublabel: a later inside duplicate
    # does not save a skeleton whose kept elements are all outside
    answer = [body(element("nose", 5, 5, 1), element("left-eye", 4, 4, 1), element("nose", 1, 1))]
    codes = {f.code for f in failing(judge(answer))}
    assert codes == {"skeleton.all-outside", "skeleton.duplicate-element"}
    # one element left inside keeps it; "false" text read as false by the serializer then
    answer = [body(element("nose", 5, 5, False), element("left-eye", 4, 4, "false"))]
    assert failing(judge(answer)) == []


def test_names_alone_keep_the_declaration_rules_quiet() -> None:
    # without declared labels nothing can be said about attributes or sublabels
    answer = [face(("hair", "red")), body(element("tail", 1, 1))]
    found = validate("detector", answer, labels=["face", "body"])
    assert [f.code for f in failing(found)] == []


@pytest.mark.parametrize(
    ("code", "check"),
    [
        ("label.unknown", "labels"),
        ("coord.outside", "coordinates"),
        ("attr.value", "attributes"),
        ("attr.unknown", "attributes"),
        ("skeleton.unknown-element", "skeleton"),
        ("shape.rotation", "schema"),
        ("detector.schema", "schema"),
        ("interactor.schema", "schema"),
    ],
)
def test_checks_select_findings_by_code(code: str, check: str) -> None:
    assert owner(code) == check


def test_a_check_not_in_the_suite_leaves_its_codes_to_schema() -> None:
    assert owner("attr.value", ("schema", "labels", "coordinates")) == "schema"


def test_interactor_mask_too_big_is_a_coordinates_finding() -> None:
    found = validate("interactor", {"mask": [[1] * 5] * 2}, image_size=(4, 4), cvat_version="2.50")
    assert [f.code for f in found if f.severity == "error"] == ["coord.outside"]


def test_every_code_a_rule_gives_is_registered() -> None:
    # codes are what checks select by: a rule may not invent one in passing
    import re
    from pathlib import Path

    from harness.cvat.findings import CODES

    source = Path(__file__).parents[1] / "harness"
    used = {
        m
        for f in source.rglob("*.py")
        for m in re.findall(
            r'"((?:attr|skeleton|label|coord|shape|response)\.[a-z-]+)"', f.read_text()
        )
    }
    assert used - set(CODES) == set()
    for rule in RULES.values():
        assert rule.code in CODES or rule.code.endswith(".schema"), rule.code

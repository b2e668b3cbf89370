"""cvat-fn's verdict on a cvat-sdk function's answer agrees with cvat-sdk's own, case by case.

cvat-sdk checks a detection function's answer only inside ``annotate_task`` (and cvat-cli's
agent), against a task on a server. Its checker is ``_AnnotationMapper`` in
``cvat_sdk/auto_annotation/driver.py`` (2.80.0): built from the function's labels and the
task's, ``validate_and_remap`` raises ``BadFunctionError`` on the first bad annotation. That
mapper is the only way in without a server, so each case here builds it with the task's
labels made from the function's spec (as a task created for the function has them; ids
shifted so that remapping is visible), runs the same annotations through it and through
:func:`harness.sdk.rules.check_answer`, and asserts the same verdict and the same message.

The loader agrees with cvat-cli's ``FunctionLoader.load`` (``cvat_cli/_internal/common.py``)
and its parameter parser (``parsers.py`` ``parse_function_parameter``) the same way.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

cvataa = pytest.importorskip("cvat_sdk.auto_annotation")
from cvat_sdk import models  # noqa: E402
from cvat_sdk.auto_annotation.driver import _AnnotationMapper  # noqa: E402
from cvat_sdk.masks import encode_mask  # noqa: E402

from harness.sdk.nuclio_main import dump, load_function, parse_parameter  # noqa: E402
from harness.sdk.rules import check_answer  # noqa: E402

FACE = cvataa.label_spec("face", 0, type="rectangle")
ANY = cvataa.label_spec("thing", 1)
MASKED = cvataa.label_spec("blob", 2, type="mask")
CAR = cvataa.label_spec(
    "car",
    3,
    type="rectangle",
    attributes=[
        cvataa.select_attribute_spec("colour", 0, ["red", "blue"]),
        cvataa.number_attribute_spec("doors", 1, ["2", "5", "1"]),
        cvataa.checkbox_attribute_spec("parked", 2),
        cvataa.text_attribute_spec("plate", 3),
    ],
)
EYES = cvataa.skeleton_label_spec(
    "eyes",
    4,
    [
        cvataa.keypoint_spec("left", 0, attributes=[cvataa.checkbox_attribute_spec("open", 0)]),
        cvataa.keypoint_spec("right", 1),
    ],
)
TAGGED = cvataa.label_spec("indoor", 5, type="tag")
LABELS = [FACE, ANY, MASKED, CAR, EYES, TAGGED]
NO_MASK_LABEL = [FACE, ANY, CAR, EYES, TAGGED]
BOX = [10.0, 10.0, 50.0, 40.0]


def _mask() -> list[float]:
    import numpy as np

    bitmap = np.zeros((60, 80), dtype=bool)
    bitmap[10:40, 10:50] = True
    return encode_mask(bitmap, [10, 10, 50, 40])


def _attr(spec_id: int, value: str) -> models.AttributeValRequest:
    return models.AttributeValRequest(spec_id=spec_id, value=value)


def _eyes(*elements: Any, **kw: Any) -> Any:
    return cvataa.skeleton(4, list(elements), **kw)


LEFT = cvataa.keypoint(0, [20, 20])
RIGHT = cvataa.keypoint(1, [40, 20])


@dataclass
class Case:
    name: str
    make: Callable[[], list[Any]]
    conv_mask_to_poly: bool = False
    labels: list[Any] = field(default_factory=lambda: LABELS)


CASES = [
    Case("valid rectangle", lambda: [cvataa.rectangle(0, BOX)]),
    Case("valid rectangle with score", lambda: [cvataa.rectangle(0, BOX, score=0.7)]),
    Case("unknown label id", lambda: [cvataa.rectangle(9, BOX)]),
    Case("tag with unknown label id", lambda: [cvataa.tag(9)]),
    Case("preset id", lambda: [cvataa.rectangle(0, BOX, id=5)]),
    Case("preset source", lambda: [cvataa.rectangle(0, BOX, source="manual")]),
    Case(
        "frame 2",
        lambda: [models.LabeledShapeRequest(type="rectangle", label_id=0, frame=2, points=BOX)],
    ),
    Case("tag on a tag label", lambda: [cvataa.tag(5)]),
    Case("tag on an any label", lambda: [cvataa.tag(1)]),
    Case("tag on a rectangle label", lambda: [cvataa.tag(0)]),
    Case("polygon on a rectangle label", lambda: [cvataa.polygon(0, [1, 1, 5, 1, 5, 5])]),
    Case("polygon on an any label", lambda: [cvataa.polygon(1, [1, 1, 5, 1, 5, 5])]),
    Case("mask on an any label", lambda: [cvataa.mask(1, _mask())]),
    Case("mask on an any label, conv", lambda: [cvataa.mask(1, _mask())], True, NO_MASK_LABEL),
    Case(
        "polygon on an any label, conv",
        lambda: [cvataa.polygon(1, [1, 1, 5, 1, 5, 5])],
        True,
        NO_MASK_LABEL,
    ),
    Case("rectangle, conv", lambda: [cvataa.rectangle(0, BOX)], True, NO_MASK_LABEL),
    Case("mask on a mask label, conv", lambda: [cvataa.mask(2, _mask())], True),
    Case("a mask label declared, conv, empty answer", lambda: [], True),
    Case("mask on a mask label", lambda: [cvataa.mask(2, _mask())]),
    Case("skeleton complete", lambda: [_eyes(LEFT, RIGHT)]),
    Case("skeleton missing an element", lambda: [_eyes(LEFT)]),
    Case("skeleton with an element twice", lambda: [_eyes(LEFT, cvataa.keypoint(0, [1, 1]))]),
    Case("skeleton element of unknown sublabel", lambda: [_eyes(LEFT, cvataa.keypoint(7, [1, 1]))]),
    Case(
        "skeleton element not points",
        lambda: [
            _eyes(
                LEFT,
                models.SubLabeledShapeRequest(type="rectangle", label_id=1, frame=0, points=BOX),
            )
        ],
    ),
    Case(
        "skeleton element with frame 1",
        lambda: [
            _eyes(
                LEFT,
                models.SubLabeledShapeRequest(type="points", label_id=1, frame=1, points=[1, 1]),
            )
        ],
    ),
    Case(
        "skeleton element with preset id", lambda: [_eyes(LEFT, cvataa.keypoint(1, [1, 1], id=3))]
    ),
    Case(
        "skeleton element attribute ok",
        lambda: [_eyes(cvataa.keypoint(0, [2, 2], attributes=[_attr(0, "true")]), RIGHT)],
    ),
    Case(
        "skeleton element attribute bad",
        lambda: [_eyes(cvataa.keypoint(0, [2, 2], attributes=[_attr(0, "yes")]), RIGHT)],
    ),
    Case("rectangle with elements", lambda: [cvataa.rectangle(0, BOX, elements=[LEFT])]),
    Case(
        "attributes ok",
        lambda: [
            cvataa.rectangle(
                3,
                BOX,
                attributes=[_attr(0, "red"), _attr(1, "3"), _attr(2, "false"), _attr(3, "X 1")],
            )
        ],
    ),
    Case("attribute unknown id", lambda: [cvataa.rectangle(3, BOX, attributes=[_attr(9, "x")])]),
    Case(
        "select value not listed",
        lambda: [cvataa.rectangle(3, BOX, attributes=[_attr(0, "green")])],
    ),
    Case("number out of range", lambda: [cvataa.rectangle(3, BOX, attributes=[_attr(1, "6")])]),
    Case("number not a number", lambda: [cvataa.rectangle(3, BOX, attributes=[_attr(1, "two")])]),
    Case("checkbox not true/false", lambda: [cvataa.rectangle(3, BOX, attributes=[_attr(2, "1")])]),
    Case(
        "attribute twice",
        lambda: [cvataa.rectangle(3, BOX, attributes=[_attr(0, "red"), _attr(0, "blue")])],
    ),
    Case(
        "attribute on a label without them",
        lambda: [cvataa.rectangle(0, BOX, attributes=[_attr(0, "x")])],
    ),
    Case("not an annotation object", lambda: [cvataa.keypoint(0, [1, 1])]),
    Case("second of two bad", lambda: [cvataa.rectangle(0, BOX), cvataa.rectangle(0, BOX, id=1)]),
    Case("two bad: the first reported", lambda: [cvataa.rectangle(9, BOX), cvataa.tag(0)]),
    Case("empty answer", lambda: []),
]


def _task_labels(function_labels: list[Any]) -> list[models.Label]:
    """The task's labels: the function's, with the server's own ids."""

    def attributes(owner: Any, base: int) -> list[models.Attribute]:
        return [
            models.Attribute(
                name=a.name,
                id=base + a.id,
                input_type=a.input_type,
                values=list(a.values),
                mutable=False,
            )
            for a in getattr(owner, "attributes", [])
        ]

    labels = []
    for label in function_labels:
        sublabels = [
            models.Sublabel(
                name=s.name, id=200 + s.id, type="points", attributes=attributes(s, 300)
            )
            for s in getattr(label, "sublabels", [])
        ]
        labels.append(
            models.Label(
                name=label.name,
                id=100 + label.id,
                type=getattr(label, "type", "any"),
                attributes=attributes(label, 400),
                sublabels=sublabels,
            )
        )
    return labels


def sdk_verdict(annotations: list[Any], conv: bool, labels: list[Any]) -> str | None:
    """cvat-sdk's: None when it accepts the answer, else its BadFunctionError message."""
    try:
        mapper = _AnnotationMapper(
            logging.getLogger("sdk-differential"),
            labels,
            _task_labels(labels),
            allow_unmatched_labels=False,
            conv_mask_to_poly=conv,
        )
        mapper.validate_and_remap(copy.deepcopy(annotations), 5)
    except cvataa.BadFunctionError as exc:
        return str(exc)
    return None


def our_verdict(annotations: list[Any], conv: bool, labels: list[Any]) -> str | None:
    findings = check_answer(
        [dump(a) for a in annotations],
        [type(a).__name__ for a in annotations],
        [dump(label) for label in labels],
        conv_mask_to_poly=conv,
    )
    return findings[0].message if findings else None


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_same_verdict_as_cvat_sdk(case: Case) -> None:
    annotations = case.make()
    expected = sdk_verdict(annotations, case.conv_mask_to_poly, case.labels)
    assert our_verdict(annotations, case.conv_mask_to_poly, case.labels) == expected


def test_the_cases_cover_both_verdicts() -> None:
    verdicts = [sdk_verdict(c.make(), c.conv_mask_to_poly, c.labels) for c in CASES]
    accepted = sum(v is None for v in verdicts)
    assert 8 <= accepted < len(CASES) - 20, verdicts


# -- loading, against cvat-cli ----------------------------------------------------------------

cvat_cli = pytest.importorskip("cvat_cli._internal.common")
cli_parsers = pytest.importorskip("cvat_cli._internal.parsers")

MODULES = {
    "plain": "import cvat_sdk.auto_annotation as cvataa\n"
    "spec = cvataa.DetectionFunctionSpec(labels=[])\n"
    "def detect(context, image):\n    return []\n",
    "factory": "import cvat_sdk.auto_annotation as cvataa\n"
    "class F:\n    def __init__(self, n):\n        self.n = n\n"
    "        self.spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec('x', n)])\n"
    "def create(n: int = 0):\n    return F(n)\n",
    "no_spec": "def detect(context, image):\n    return []\n",
    "duplicate_ids": "import cvat_sdk.auto_annotation as cvataa\n"
    "spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec('a', 1),"
    " cvataa.label_spec('b', 1)])\n",
    "sublabels_not_skeleton": "import cvat_sdk.auto_annotation as cvataa\n"
    "spec = cvataa.DetectionFunctionSpec(labels=[cvataa.label_spec('a', 1, type='rectangle',"
    " sublabels=[cvataa.keypoint_spec('k', 0)])])\n",
    "dataclass_future": "from __future__ import annotations\n"
    "from dataclasses import dataclass\n"
    "@dataclass\nclass State:\n    box: list[float]\n"
    "import cvat_sdk.auto_annotation as cvataa\n"
    "spec = cvataa.TrackingFunctionSpec(supported_shape_types=['rectangle'])\n",
}
LOADS = [
    ("plain", {}),
    ("plain", {"n": 1}),
    ("factory", {}),
    ("factory", {"n": 3}),
    ("factory", {"m": 3}),
    ("no_spec", {}),
    ("duplicate_ids", {}),
    ("sublabels_not_skeleton", {}),
    ("dataclass_future", {}),
]


def _outcome(load: Callable[[], Any]) -> str:
    try:
        function = load()
    except Exception as exc:
        return f"{type(exc).__name__}: {exc}"
    labels = getattr(function.spec, "labels", None)
    return f"loaded {type(function.spec).__name__} {dump(labels[0]) if labels else ''}"


@pytest.mark.parametrize(("module", "params"), LOADS, ids=[f"{m}-{p}" for m, p in LOADS])
def test_loader_agrees_with_cvat_cli(tmp_path: Path, module: str, params: dict[str, Any]) -> None:
    path = tmp_path / f"{module}.py"
    path.write_text(MODULES[module])
    theirs = _outcome(lambda: cvat_cli.FunctionLoader(None, path, params).load())
    ours = _outcome(lambda: load_function(str(path), params))
    assert ours == theirs


@pytest.mark.parametrize(
    "text",
    ["n=int:3", "x=float:0.5", "s=str:a:b", "b=bool:true", "b=bool:0", "n=int", "n", "n=list:1"],
)
def test_parameters_parse_as_cvat_cli(text: str) -> None:
    def theirs() -> Any:
        return cli_parsers.parse_function_parameter(text)

    def ours() -> Any:
        return parse_parameter(text)

    for parse in (theirs, ours):
        try:
            result = parse()
        except Exception:
            result = "error"
        if parse is theirs:
            expected = result
    assert result == expected

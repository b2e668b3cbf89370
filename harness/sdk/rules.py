"""What cvat-sdk requires of a detection function's answer, judged on the answer as data.

The rules and their wording follow cvat-sdk 2.80.0 ``cvat_sdk/auto_annotation/driver.py``:
``_AnnotationMapper._remap_annotation``, ``_remap_attribute(s)``, ``_remap_element(s)``,
``validate_and_remap`` and ``_get_expected_function_output_type``, checked in the same order,
so the first finding is the ``BadFunctionError`` the SDK would raise. The task is taken to have
exactly the function's labels (what the agent and ``cvat-cli task auto-annotate`` see when a
task is made from the function's spec): a label of type ``any`` accepts any shape type.
tests/test_sdk_differential.py runs the same answers through the SDK's own mapper.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

TAG, SHAPE = "LabeledImageRequest", "LabeledShapeRequest"
MASK_RULES = (
    "despite conv_mask_to_poly",
    "of type 'mask' (expected 'polygon')",
    "has type 'polygon' in the function, but 'mask' in the dataset",
)


@dataclass(frozen=True)
class Finding:
    index: int | None  # the annotation's index in the answer; None: the whole answer
    message: str

    def __str__(self) -> str:
        where = "answer" if self.index is None else f"[{self.index}]"
        return f"{where}: {self.message}"


class _Rejected(Exception):
    pass


def _validator(attribute: Mapping[str, Any]) -> Callable[[str], bool]:
    from cvat_sdk import models
    from cvat_sdk.attributes import attribute_value_validator

    spec = models.AttributeRequest(
        name=str(attribute.get("name")),
        input_type=str(attribute.get("input_type")),
        values=list(attribute.get("values") or []),
        mutable=False,
    )
    return attribute_value_validator(spec)


def _expected_type(label: Mapping[str, Any]) -> str:
    """The type a shape of this label must have (``any``: the task's label is the
    function's, so any type). A mask label under conv_mask_to_poly is refused up front."""
    return str(label.get("type") or "any")


def _mask_label_under_conv(labels: Sequence[Mapping[str, Any]]) -> Finding | None:
    """With conv_mask_to_poly the SDK expects polygons for a mask label, which a task's mask
    label cannot take: it refuses while building its mapping, whatever the answer."""
    for label in labels:
        if label.get("type") == "mask":
            return Finding(
                None,
                f"label {label.get('name')!r} has type 'polygon' in the function,"
                " but 'mask' in the dataset",
            )
    return None


def _compatible(source: str, destination: str) -> bool:
    return destination == "any" or destination == source


def _attributes(annotation: Mapping[str, Any], owner: Mapping[str, Any]) -> None:
    by_id = {a.get("id"): a for a in owner.get("attributes") or []}
    seen: set[Any] = set()
    for value in annotation.get("attributes") or []:
        spec_id = value.get("spec_id")
        if spec_id not in by_id:
            raise _Rejected(f"function output attribute with unknown ID ({spec_id})")
        if spec_id in seen:
            raise _Rejected("function output shape with multiple attributes with same ID")
        if not _validator(by_id[spec_id])(value.get("value")):
            raise _Rejected(
                f"function output attribute value ({value.get('value')!r})"
                f" that is unsuitable for its attribute ({spec_id})"
            )
        seen.add(spec_id)


def _preset(annotation: Mapping[str, Any], what: str) -> None:
    if "id" in annotation:
        raise _Rejected(f"function output {what} with preset id")
    if "source" in annotation:
        raise _Rejected(f"function output {what} with preset source")


def _elements(shape: Mapping[str, Any], label: Mapping[str, Any]) -> None:
    elements = shape.get("elements") or []
    if shape.get("type") != "skeleton":
        if elements:
            raise _Rejected("function output non-skeleton shape with elements")
        return
    sublabels = {s.get("id"): s for s in label.get("sublabels") or []}
    seen: set[Any] = set()
    for element in elements:
        _preset(element, "shape element")
        if element.get("frame") != 0:
            raise _Rejected(
                "function output shape element with unexpected frame number"
                f" ({element.get('frame')})"
            )
        if element.get("type") != "points":
            raise _Rejected(
                "function output skeleton with element type other than 'points'"
                f" ({element.get('type')})"
            )
        sublabel_id = element.get("label_id")
        if sublabel_id not in sublabels:
            raise _Rejected(f"function output shape with unknown sublabel ID ({sublabel_id})")
        if sublabel_id in seen:
            raise _Rejected("function output skeleton with multiple elements with same sublabel")
        seen.add(sublabel_id)
        _attributes(element, sublabels[sublabel_id])
    if len(seen) != len(sublabels):
        raise _Rejected(
            "function output skeleton with fewer elements than expected"
            f" ({len(seen)} vs {len(sublabels)})"
        )


def _annotation(
    annotation: Mapping[str, Any],
    what: str,
    labels: Mapping[Any, Mapping[str, Any]],
    conv_mask_to_poly: bool,
) -> None:
    _preset(annotation, what)
    if annotation.get("frame") != 0:
        raise _Rejected(
            f"function output {what} with unexpected frame number ({annotation.get('frame')})"
        )
    label_id = annotation.get("label_id")
    if label_id not in labels:
        raise _Rejected(f"function output {what} with unknown label ID ({label_id})")
    label = labels[label_id]
    _attributes(annotation, label)
    expected = _expected_type(label)
    if what == "tag":
        if not _compatible("tag", expected):
            raise _Rejected(f"function output tag (expected shape of type {expected!r})")
        return
    type_ = str(annotation.get("type"))
    if not _compatible(type_, expected):
        raise _Rejected(f"function output shape of type {type_!r} (expected {expected!r})")
    if type_ == "mask" and conv_mask_to_poly:
        raise _Rejected("function output mask shape despite conv_mask_to_poly=True")
    _elements(annotation, label)


def check_answer(
    annotations: Sequence[Mapping[str, Any]],
    types: Sequence[str],
    labels: Sequence[Mapping[str, Any]],
    *,
    conv_mask_to_poly: bool = False,
) -> list[Finding]:
    """Every annotation the SDK would reject, with the SDK's message; in the SDK's order."""
    if conv_mask_to_poly and (refused := _mask_label_under_conv(labels)):
        return [refused]
    by_id = {label.get("id"): label for label in labels}
    findings = []
    for index, (annotation, type_name) in enumerate(zip(annotations, types, strict=True)):
        what = {TAG: "tag", SHAPE: "shape"}.get(type_name)
        try:
            if what is None:
                raise _Rejected(
                    f"function output an object of type {type_name!r}"
                    f" (expected {TAG!r} or {SHAPE!r})"
                )
            _annotation(annotation, what, by_id, conv_mask_to_poly)
        except _Rejected as exc:
            findings.append(Finding(index, str(exc)))
    return findings

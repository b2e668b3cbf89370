"""An interactor's answer, as CVAT's UI takes it (the server passes it through untouched).

cvat-ai/cvat ``cvat-core/src/lambda-manager.ts`` (``call``, since PR #10329, 2.60): an object
with ``"mask"`` is the older answer, a 2-D 0/1 array converted to run lengths and placed at
(0, 0) with the box ``[0, 0, width-1, height-1]`` (its ``points`` and ``bounds`` are no longer
read); an object whose ``"shapes"`` is a list is the current answer, each shape's ``points``
being run lengths plus ``[xtl, ytl, xbr, ybr]``; anything else is handed to the UI as is.
``tools-control.tsx`` ``runInteractionRequest`` then iterates ``response.shapes`` (failing
with "Interaction error occurred" when it is not iterable, cvat-ai/cvat issue #10088 for a
bare list), keeps the ``mask`` shapes and draws each it finds a contour for: what it shows,
leaves out or fails on is :mod:`harness.cvat.interactor_ui`'s, read at 2.73. Before PR
#10329 the UI read ``{"mask", "points"?, "bounds"?}`` (tools-control.tsx), placing the mask
at ``bounds``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from harness.cvat.detector import (
    check_inside,
    describe,
    is_number,
    number_list,
)
from harness.cvat.findings import (
    INTERACTOR_SHAPES_SINCE,
    UI_SKIPS_NON_MASKS_SINCE,
    Collector,
)
from harness.cvat.interactor_ui import (
    DEFAULT_THRESHOLD,
    check_ui_mask,
    confidence_of,
    legacy_points,
)

_SINCE = ".".join(str(v) for v in INTERACTOR_SHAPES_SINCE)
_ATTRIBUTES_WANTED = (
    'CVAT\'s UI wants [{"spec_id": number, "value": str}] and gives the shape [] for anything'
    " else, so a confidence among them (spec_id 0) is not read"
)


def _check_mask_rows(
    c: Collector, where: str, rows: Any, image_size: tuple[int, int] | None
) -> tuple[int, int] | None:
    """A 2-D 0/1 array -> (width, height), or None after reporting what is wrong."""
    if not isinstance(rows, list) or not rows:
        c.error(where, f"must be a non-empty 2-D array (rows of 0/1), got {describe(rows)}")
        return None
    if not all(isinstance(r, list) for r in rows):
        k = next(k for k, r in enumerate(rows) if not isinstance(r, list))
        c.error(f"{where}[{k}]", f"must be a row (a list of 0/1), got {describe(rows[k])}")
        return None
    width = len(rows[0])
    if width == 0 or any(len(r) != width for r in rows):
        lengths = sorted({len(r) for r in rows})
        c.error(where, f"rows must all have the same, non-zero length; got lengths {lengths}")
        return None
    for k, r in enumerate(rows):
        if number_list(c, f"{where}[{k}]", r) is None:
            return None
    if any(v not in (0, 1) for r in rows for v in r):
        c.warn(where, "values other than 0 and 1: CVAT encodes runs wherever the value changes")
    if image_size is not None and (width > image_size[0] or len(rows) > image_size[1]):
        c.error(
            where,
            f"a {width}x{len(rows)} mask does not fit the {image_size[0]}x{image_size[1]} image",
            "coord.outside",
        )
    return width, len(rows)


def _rows_size(rows: Any) -> tuple[int, int] | None:
    """(width, height) of rows that are all lists of one length, else None."""
    if not isinstance(rows, list) or not rows or not all(isinstance(r, list) for r in rows):
        return None
    widths = {len(r) for r in rows}
    return (widths.pop(), len(rows)) if len(widths) == 1 else None


def _check_legacy_mask(
    c: Collector, body: Mapping[str, Any], image_size: tuple[int, int] | None, current: bool
) -> None:
    if current:
        points = legacy_points(c, body["mask"])
        if points is not None:
            check_ui_mask(c, "mask", points, image_size, legacy=True)
        size = _rows_size(body["mask"])
        c.warn(
            "response",
            f'the older {{"mask": 2-D array}} answer: CVAT {c.cvat_version} still converts it,'
            ' but answer {"shapes": [{"type": "mask", "points": run lengths + [xtl, ytl, xbr,'
            " ybr]}]}",
        )
        if "bounds" in body and size is not None:
            bounds = body["bounds"]
            whole = [0, 0, size[0] - 1, size[1] - 1]
            if not (isinstance(bounds, list) and list(bounds) == whole):
                c.loss(
                    "bounds",
                    f"ignored by CVAT {c.cvat_version}, which places the mask at (0, 0) as"
                    f" {whole}: a mask cropped to its bounds lands in the wrong place",
                )
        if "points" in body:
            c.warn("points", f"ignored by CVAT {c.cvat_version} (it traces the mask itself)")
        return
    size = _check_mask_rows(c, "mask", body["mask"], image_size)
    if "bounds" in body:
        bounds = number_list(c, "bounds", body["bounds"])
        if bounds is not None:
            if len(bounds) != 4:
                c.error("bounds", f"must be [xtl, ytl, xbr, ybr], got {len(bounds)} numbers")
            elif size is not None and (
                bounds[2] - bounds[0] + 1 != size[0] or bounds[3] - bounds[1] + 1 != size[1]
            ):
                c.error(
                    "bounds",
                    f"the box {bounds} does not match the {size[0]}x{size[1]} mask",
                )
            else:
                check_inside(c, "bounds", bounds, image_size, pixel_indices=True)
    if "points" in body:
        points = body["points"]
        if not isinstance(points, list) or not all(
            isinstance(p, list) and len(p) == 2 and all(is_number(v) for v in p) for p in points
        ):
            c.error("points", f"must be a list of [x, y] points, got {describe(points)}")
        else:
            check_inside(c, "points", [v for p in points for v in p], image_size)


def _is_js_number(value: Any) -> bool:
    """``typeof value === 'number'`` for a value parsed from JSON (true/false are booleans)."""
    return isinstance(value, int | float) and not isinstance(value, bool)


def _check_attributes(c: Collector, where: str, attributes: Any, kept: bool) -> None:
    """As cvat-core ``lambda-manager.ts`` ``call`` (since PR #10329) keeps a shape's attributes.

    It keeps them only when ``Array.isArray`` and ``every`` attribute passes ``typeof attr ===
    'object' && typeof attr.spec_id === 'number' && typeof attr.value === 'string'``, else
    gives the shape ``[]``. ``typeof null`` is ``'object'``, so a null reached by ``every``
    (all before it passing) throws on ``attr.spec_id`` and the UI shows "Interaction error
    occurred"; ``every`` stops at the first attribute that fails, so a null after it is never
    read. ``kept``: the shape is a mask the UI keeps (else only the crash matters). Of the
    attributes kept, tools-control.tsx reads only a confidence (:func:`_check_confidence`), so
    attributes given ``[]`` are a warning.
    """
    if not isinstance(attributes, list):
        if attributes is not None and kept:  # missing or null: the UI gives it [] anyway
            c.warn(
                where, f"{_ATTRIBUTES_WANTED}, got {describe(attributes)}", "interactor.attributes"
            )
        return
    for k, attr in enumerate(attributes):
        if attr is None:
            c.error(
                f"{where}[{k}]",
                "null: CVAT's UI reads attr.spec_id of every attribute (typeof null is"
                ' "object") and fails ("Interaction error occurred"); leave it out',
            )
            return
        if not (
            isinstance(attr, Mapping)
            and _is_js_number(attr.get("spec_id"))
            and isinstance(attr.get("value"), str)
        ):
            if kept:
                c.warn(
                    where,
                    f"{_ATTRIBUTES_WANTED}: [{k}] is {describe(attr)}",
                    "interactor.attributes",
                )
            return


def _check_confidence(c: Collector, where: str, attributes: Any) -> None:
    """tools-control.tsx ``runInteractionRequest``: the confidence is ``+value`` of the first
    attribute with ``spec_id === 0``; ``drawIntermediateShapesOnCanvas`` and
    ``constructFromLatestResponse`` keep a mask only when it is at least the slider's
    threshold (0.5 to begin with), and no other attribute reaches the object created."""
    kept, confidence = confidence_of(attributes)
    if not kept:
        return
    if confidence is not None and math.isnan(confidence):
        c.loss(
            f"{where}.attributes",
            "the confidence (spec_id 0) is not a number: CVAT's UI reads it as NaN, which is"
            " never at least the threshold, so this mask is neither shown nor created",
            "interactor.confidence",
        )
    elif confidence is not None and confidence < DEFAULT_THRESHOLD:
        c.warn(
            f"{where}.attributes",
            f"a confidence of {confidence:g}: CVAT's UI hides this mask until the user lowers"
            f" the confidence slider below it (it starts at {DEFAULT_THRESHOLD:g})",
            "interactor.confidence",
        )
    if any(a["spec_id"] != 0 for a in attributes):
        c.warn(
            f"{where}.attributes",
            "CVAT's UI reads only the confidence (spec_id 0) of an interactor's attributes: the"
            " object it creates gets none of them",
            "interactor.attributes",
        )


def _check_shapes(c: Collector, shapes: Any, image_size: tuple[int, int] | None) -> None:
    skips = c.version >= UI_SKIPS_NON_MASKS_SINCE
    if isinstance(shapes, str) and skips:
        # for...of walks a string's characters; "m".type is not "mask", so each is skipped
        c.loss(
            "shapes",
            f"{describe(shapes)}, not a list: CVAT's UI walks its characters, finds no mask"
            ' and shows nothing ("No shapes to display")',
        )
        return
    if not isinstance(shapes, list):
        c.error(
            "shapes",
            f"must be a list (CVAT passes anything else to the UI, which fails), got"
            f" {describe(shapes)}",
        )
        return
    masks = 0
    for i, shape in enumerate(shapes):
        where = f"shapes[{i}]"
        if not isinstance(shape, Mapping):
            c.error(where, f"a shape is a JSON object, got {describe(shape)}")
            continue
        # lambda-manager.ts: `item.type ?? ShapeType.MASK`: only a missing or null type is a
        # mask; "" stays "" (and is dropped below)
        type_ = shape.get("type")
        type_ = "mask" if type_ is None else type_
        # cvat-core reads every shape's attributes, masks or not, before the UI filters them
        _check_attributes(c, f"{where}.attributes", shape.get("attributes"), type_ == "mask")
        if type_ != "mask":
            if not skips and shape.get("points") is None:
                # before the change, lambda-manager.ts ran Int32Array.from on every shape
                c.error(f"{where}.points", "missing: CVAT's UI fails on Int32Array.from(points)")
            c.loss(
                f"{where}.type",
                f"{describe(type_)}: CVAT's UI keeps only masks from an interactor and drops"
                " this shape",
            )
            continue
        masks += 1
        if check_ui_mask(c, f"{where}.points", shape.get("points"), image_size):
            _check_confidence(c, where, shape.get("attributes"))
    if masks == 0:
        c.warn(
            "shapes",
            'no mask shapes: the UI has nothing to show ("No shapes to display")',
            "interactor.nothing-shown",
        )


def validate_interactor(
    c: Collector,
    body: Any,
    labels: Sequence[str] | None,
    image_size: tuple[int, int] | None,
    request: Mapping[str, Any] | None,
) -> None:
    current = c.version >= INTERACTOR_SHAPES_SINCE
    if isinstance(body, list):
        c.error(
            "response",
            f"a bare list (the old polygon answer) fails in CVAT {c.cvat_version}'s UI; answer"
            + (
                ' {"shapes": [{"type": "mask", "points": run lengths + [xtl, ytl, xbr, ybr]}]}'
                if current
                else ' {"mask": 2-D array of 0/1, "points"?: [[x, y]...], "bounds"?: box}'
            ),
        )
        return
    if not isinstance(body, Mapping):
        c.error("response", f"an interactor answers a JSON object, got {describe(body)}")
        return
    if "mask" in body:
        _check_legacy_mask(c, body, image_size, current)
        return
    if "shapes" in body:
        if not current:
            c.error(
                "shapes",
                f'CVAT {c.cvat_version} does not read {{"shapes": ...}} (taken since'
                f' {_SINCE}); answer {{"mask": 2-D array}}',
            )
            return
        _check_shapes(c, body["shapes"], image_size)
        return
    expected = '"shapes"' if current else '"mask"'
    c.error("response", f"an interactor's answer needs {expected}; got {describe(body)}")

"""A detector's answer: a list of CVAT shapes. The shape checks here serve the other kinds
too, since trackers and interactors answer with CVAT shapes as well.

What CVAT does with each field (cvat-ai/cvat ``lambda_manager/views.py``, ``invoke`` and
``DetectionResultConverter._parse_anno``): ``label`` and ``type`` are read for every item
(a missing one fails the whole auto-annotation job); labels are matched by exact name and
unknown ones dropped silently; ``tag`` is matched without regard to case, the other types
exactly (the serializer rejects anything else); a mask's ``mask`` is its box's bitmap plus
``[xtl, ytl, xbr, ybr]``, turned into run lengths without comparing the two; skeleton
``elements`` are points read as ``points[0], points[1]``; ``attributes`` are
``{"name", "value"}`` with the value compared as text; ``confidence`` is not stored.
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from harness.cvat.attributes import check_attributes
from harness.cvat.findings import SHAPE_COUNTS_SINCE, Collector

SHAPE_TYPES = (
    "rectangle",
    "polygon",
    "polyline",
    "points",
    "ellipse",
    "cuboid",
    "mask",
    "skeleton",
    "tag",
)
POINT_RULES: dict[str, tuple[int | None, int]] = {
    # shape type: (exact count or None, minimum count of an even-length list)
    "rectangle": (4, 4),
    "ellipse": (4, 4),
    "cuboid": (16, 16),
    "points": (None, 2),
    "polyline": (None, 4),
    "polygon": (None, 6),
}
TOLERANCE_PX = 1.0
"""How far outside the image a coordinate may lie before it is reported: rounding and
boxes whose right/bottom edge is the image's width/height stay quiet."""


def describe(value: Any) -> str:
    """A short name for what a JSON value is, for messages."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return f"a boolean ({str(value).lower()})"
    if isinstance(value, str):
        text = value if len(value) <= 40 else value[:37] + "..."
        return f"a string ({text!r})"
    if isinstance(value, int | float):
        return f"a number ({value!r})"
    if isinstance(value, Mapping):
        keys = ", ".join(repr(k) for k in list(value)[:6])
        return f"an object (keys {keys})" if keys else "an empty object"
    if isinstance(value, list | tuple):
        return f"a list of {len(value)} items"
    return type(value).__name__


def a(word: str) -> str:
    """``"a rectangle"``, ``"an ellipse"``."""
    return f"{'an' if word[:1] in 'aeiou' else 'a'} {word}"


def is_number(v: Any) -> bool:
    """A JSON number CVAT's serializer takes: int or float (not bool), finite."""
    if not isinstance(v, int | float) or isinstance(v, bool):
        return False
    try:
        return math.isfinite(v)
    except OverflowError:  # an int too large for a float (10**400)
        return False


def number_list(
    c: Collector,
    where: str,
    value: Any,
    what: str = "numbers",
    *,
    booleans: int = 0,
) -> list[float] | None:
    """The list as floats, or None after reporting why it is not a list of finite numbers.
    ``booleans``: how many leading items may also be true/false (read as 1/0)."""
    if not isinstance(value, list | tuple):
        c.error(where, f"must be a list of {what}, got {describe(value)}")
        return None
    bad = [
        k
        for k, v in enumerate(value)
        if not (is_number(v) or (k < booleans and isinstance(v, bool)))
    ]
    if bad:
        k = bad[0]
        more = f" (and {len(bad) - 1} more)" if len(bad) > 1 else ""
        v = value[k]
        why = "is not a finite number" if isinstance(v, float) else "is not a number"
        c.error(f"{where}[{k}]", f"{v!r} {why}{more}")
        return None
    return [float(v) for v in value]


def check_inside(
    c: Collector,
    where: str,
    coords: Sequence[float],
    image_size: tuple[int, int] | None,
    *,
    pixel_indices: bool = False,
) -> None:
    """Every (x, y) pair inside the image, within :data:`TOLERANCE_PX`. Pixel indices (mask
    boxes) end at width-1; coordinates may reach the width itself. CVAT 2.73 stores points
    outside as sent (``dataset_manager/task.py`` ``_save_shapes_to_db``: "FIXME: need to clamp
    points") and its UI clamps them when the shape is edited (cvat-core ``drawn.ts``
    ``fitPoints``): a warning to CVAT, which the coordinates check fails on (cvat-fn's own
    rule: such points almost always mean coordinates for another frame size)."""
    if image_size is None:
        return
    w, h = image_size
    xmax, ymax = (w - 1, h - 1) if pixel_indices else (w, h)
    outside = [
        (coords[k], coords[k + 1])
        for k in range(0, len(coords) - 1, 2)
        if not (
            -TOLERANCE_PX <= coords[k] <= xmax + TOLERANCE_PX
            and -TOLERANCE_PX <= coords[k + 1] <= ymax + TOLERANCE_PX
        )
    ]
    if outside:
        x, y = outside[0]
        more = f" (and {len(outside) - 1} more points)" if len(outside) > 1 else ""
        c.warn(
            where,
            f"({x:g}, {y:g}) lies outside the {w}x{h} image{more} (tolerance {TOLERANCE_PX:g} px):"
            " CVAT stores it as sent and clamps it to the image when the shape is edited",
            "coord.outside",
        )


def check_points(
    c: Collector, where: str, type_: str, value: Any, image_size: tuple[int, int] | None
) -> None:
    """Count, order and position of a flat ``[x1, y1, x2, y2, ...]`` for ``type_``."""
    nums = number_list(c, where, value)
    if nums is None:
        return
    exact, minimum = POINT_RULES[type_]
    n = len(nums)
    if exact is not None and n != exact:
        count_finding(c, where, f"{a(type_)} needs {exact} numbers, got {n}")
        return
    if exact is None and (n % 2 or n < minimum):
        count_finding(
            c,
            where,
            f"{a(type_)} needs an even count of numbers, at least {minimum}"
            f" ({minimum // 2} point{'s' if minimum > 2 else ''}), got {n}",
        )
        return
    if type_ == "rectangle":
        xtl, ytl, xbr, ybr = nums
        if xbr < xtl or ybr < ytl:
            c.warn(
                where,
                f"a rectangle is [xtl, ytl, xbr, ybr], but [{xtl:g}, {ytl:g}, {xbr:g}, {ybr:g}]"
                " has its bottom-right corner above or left of its top-left one: CVAT checks"
                " only the count and stores the corners as sent",
                "shape.points",
            )
    check_inside(c, where, nums, image_size)


def count_finding(c: Collector, where: str, message: str) -> None:
    """A point count wrong for the shape's type. engine/serializers.py
    ``ShapeSerializer.validate`` fails the request on it since 2.40; before, CVAT stored the
    shape with the count it had, as sent (measured on CVAT 2.22.0: tests/cvat_server/
    test_verdicts.py), so a warning: nothing is lost, but the shape is not one its type can be."""
    if c.version >= SHAPE_COUNTS_SINCE:
        c.error(
            where, f"{message}: CVAT's serializer refuses it and fails the request", "shape.points"
        )
    else:
        c.warn(
            where,
            f"{message}: CVAT {c.cvat_version} stores the shape as sent, with a count its type"
            " cannot have",
            "shape.points",
        )


def check_mask_box(
    c: Collector,
    where: str,
    box: Sequence[float],
    image_size: tuple[int, int] | None,
    *,
    stored_as_sent: bool = False,
) -> tuple[int, int] | None:
    """A mask's trailing ``[xtl, ytl, xbr, ybr]`` (inclusive pixel indices) -> (width, height).

    ``stored_as_sent``: a detector's mask, whose box CVAT's server copies as sent (views.py
    ``_parse_anno``); measured on CVAT 2.73.0 (tests/cvat_server/test_verdicts.py): a box of
    fractions is stored and answered as sent, a reversed box too, and the mask then has no
    pixels to decode its runs into."""
    if not all(float(v).is_integer() for v in box):
        shown = [float(v) for v in box]
        if stored_as_sent:
            c.warn(
                where,
                f"a mask's box {shown} is not whole pixel indices: CVAT stores it as sent, and"
                " the mask's pixels lie off the image's pixel grid",
                "mask.geometry",
            )
            return _box_size(box)
        c.loss(
            where,
            f"CVAT will store this mask misplaced: its box {shown} is not whole pixel indices,"
            " and CVAT stores it as sent",
            "mask.geometry",
        )
        return None
    xtl, ytl, xbr, ybr = (int(v) for v in box)
    if xbr < xtl or ybr < ytl:
        if stored_as_sent:
            c.loss(
                where,
                f"CVAT will store this mask with no pixels: its box [{xtl}, {ytl}, {xbr}, {ybr}]"
                " ends before it starts, and CVAT stores the box as sent, so the runs decode"
                " into an empty box",
                "mask.geometry",
            )
        else:
            c.error(where, f"a mask's box [{xtl}, {ytl}, {xbr}, {ybr}] ends before it starts")
        return None
    check_inside(c, where, [xtl, ytl, xbr, ybr], image_size, pixel_indices=True)
    return xbr - xtl + 1, ybr - ytl + 1


def _box_size(box: Sequence[float]) -> tuple[int, int] | None:
    """What the runs of a box of fractions decode into: its size from the whole pixels."""
    xtl, ytl, xbr, ybr = (math.floor(float(v)) for v in box)
    if xbr < xtl or ybr < ytl:
        return None
    return xbr - xtl + 1, ybr - ytl + 1


def check_bitmap_mask(
    c: Collector, where: str, value: Any, image_size: tuple[int, int] | None
) -> None:
    """A detector's mask: row-major 0/1 bitmap of the box, then ``[xtl, ytl, xbr, ybr]``.
    The bitmap may be true/false: views.py ``_parse_anno`` hands ``np.array(bitmap)`` to
    datumaro's ``mask_to_rle``, which reads a boolean array as 0/1 (``mask.tolist()`` of a
    boolean mask gives exactly that). ``mask_to_rle`` of the fork CVAT 2.22 pins
    (cvat-ai/datumaro e612d1bf, ``datumaro/util/mask_tools.py``) is a run-length walk: a run
    starts wherever the value changes, the first run counts 0s, any one non-zero whole value
    reads as 1 and two different ones alternate. An all-zero bitmap encodes as one run of 0s
    (stored: an empty mask); an empty bitmap raises ``IndexError`` (``bounded[0]``).
    tests/test_fork_mask_rules.py runs that function on every case ruled on here."""
    booleans = max(len(value) - 4, 0) if isinstance(value, list | tuple) else 0
    nums = number_list(c, where, value, booleans=booleans)
    if nums is None:
        return
    if len(nums) < 4:
        c.error(
            where,
            f"a mask is its box's bitmap followed by [xtl, ytl, xbr, ybr]; got {len(nums)}"
            " numbers: CVAT unpacks the last four and fails",
        )
        return
    bitmap, box = nums[:-4], nums[-4:]
    if not bitmap:
        c.error(
            where,
            "no bitmap before the box: the datumaro fork CVAT 2.22 pins fails encoding an"
            " empty bitmap (mask_to_rle raises IndexError), and with it the request; send the"
            " box's 0/1 bitmap, or leave the mask out",
            "mask.geometry",
        )
        return
    size = check_mask_box(c, where, box, image_size, stored_as_sent=True)
    if not any(bitmap):
        c.warn(
            where,
            "an all-zero bitmap: CVAT stores an empty mask: nothing to see in the task",
            "mask.geometry",
        )
    if size is None:
        return
    area = size[0] * size[1]
    if len(bitmap) != area:
        hint = ""
        if any(v > 1 for v in bitmap) and sum(bitmap) == area:
            hint = (
                "; these look like run lengths, the interactor's encoding, but a detector's"
                " mask is a 0/1 bitmap"
            )
        c.loss(
            where,
            f"CVAT will store this mask wrong: the bitmap has {len(bitmap)} values but the box"
            f" is {size[0]}x{size[1]} = {area} pixels, and CVAT does not compare them{hint}",
            "mask.geometry",
        )
        return
    set_values = sorted({v for v in bitmap if v})
    fractions = [v for v in set_values if not v.is_integer()]
    if fractions:
        c.warn(
            where,
            f"bitmap values that are not whole ({fractions[0]:g}): CVAT's datumaro encoders"
            " read them differently (the fork CVAT 2.22 pins takes them as set pixels but"
            " misplaces its runs when one opens or closes the bitmap; datumaro's compiled"
            " encoder reads the bitmap as bytes, 0.5 as 0); send 0 and 1",
            "mask.geometry",
        )
    elif len(set_values) > 1:
        shown = ", ".join(f"{v:g}" for v in set_values[:3])
        c.loss(
            where,
            f"CVAT will store this mask wrong: its bitmap holds several non-zero values"
            f" ({shown}), and CVAT starts a new run wherever the value changes, so where"
            " they meet the mask flips between set and unset pixels; send 0 and 1",
            "mask.geometry",
        )
    elif set_values and set_values != [1.0]:
        c.warn(
            where,
            f"bitmap values other than 0 and 1 ({set_values[0]:g} for set pixels): CVAT"
            " stores them as 1 (a run starts wherever the value changes); send 0 and 1",
        )


def check_rle_mask(
    c: Collector, where: str, value: Any, image_size: tuple[int, int] | None
) -> None:
    """An interactor's or tracker's mask: run lengths (the first counts 0s) summing to the
    box's area, then ``[xtl, ytl, xbr, ybr]`` (cvat-core ``rle-utils.ts``: ``rle2Mask``)."""
    nums = number_list(c, where, value)
    if nums is None:
        return
    if len(nums) < 4:
        c.error(
            where,
            "a mask's points are run lengths followed by [xtl, ytl, xbr, ybr];"
            f" got {len(nums)} numbers",
        )
        return
    counts, box = nums[:-4], nums[-4:]
    if not counts:
        c.warn(where, "an empty mask (no run lengths): nothing to show")
        return
    size = check_mask_box(c, where, box, image_size)
    if size is None:
        return
    if any(v < 0 or not v.is_integer() for v in counts):
        c.loss(
            where,
            "CVAT will draw this mask wrong: run lengths must be whole, non-negative pixel"
            " counts, and CVAT's UI truncates them to 32-bit integers and decodes them as sent",
            "mask.geometry",
        )
        return
    area = size[0] * size[1]
    total = sum(counts)
    if total != area:
        hint = ""
        if len(counts) == area and all(v in (0.0, 1.0) for v in counts):
            hint = (
                "; this looks like a 0/1 bitmap, but here CVAT expects run lengths (the first"
                " counts 0s) and misreads a bitmap silently"
            )
        c.loss(
            where,
            f"CVAT will draw this mask wrong: the run lengths add up to {total:g} pixels but"
            f" the box is {size[0]}x{size[1]} = {area}, and CVAT's UI decodes them as sent"
            f" (cvat-core rle2Mask){hint}",
            "mask.geometry",
        )


def _check_type(c: Collector, where: str, item: Mapping[str, Any]) -> str | None:
    if "type" not in item:
        c.error(f"{where}.type", "missing: CVAT reads every shape's type and fails the job")
        return None
    type_ = item["type"]
    if not isinstance(type_, str):
        c.error(f"{where}.type", f"must be a string, got {describe(type_)}")
        return None
    if type_.lower() == "tag":
        return "tag"
    if type_ in SHAPE_TYPES:
        return type_
    if type_.lower() in SHAPE_TYPES:
        c.error(
            f"{where}.type",
            f'"{type_}" is not a CVAT shape type: write "{type_.lower()}" (only "tag" is'
            " matched without regard to case)",
        )
    else:
        c.error(
            f"{where}.type",
            f'"{type_}" is not a CVAT shape type (one of {", ".join(SHAPE_TYPES)})',
        )
    return None


def _label_ends_it(c: Collector, where: str) -> bool:
    """Whether the item's label was reported: CVAT then drops the item (an unknown label) or
    fails on it (no label, a list) before reading anything else of it."""
    return any(f.where == f"{where}.label" for f in c.findings)


def _check_label(
    c: Collector, where: str, item: Mapping[str, Any], labels: Sequence[str] | None
) -> Any | None:
    """The declared label the item names (None when unknown or labels are not known).
    views.py ``LambdaFunction.invoke``: ``item["label"]`` (KeyError fails the request), then
    ``if item_label not in mapping: continue``: an undeclared label is dropped silently."""
    if "label" not in item:
        c.error(f"{where}.label", "missing: CVAT looks every shape up by label and fails the job")
        return None
    label = item["label"]
    if isinstance(label, list | dict):
        c.error(
            f"{where}.label",
            f"must be a label's name (a string), got {describe(label)}: CVAT looks it up in a"
            " dict and fails",
        )
        return None
    if not isinstance(label, str):
        c.loss(
            f"{where}.label",
            f"CVAT will drop this shape: its label is {describe(label)}, not a label's name",
            "label.unknown",
        )
        return None
    if labels is not None and label not in labels:
        known = ", ".join(labels) if labels else "none declared"
        c.loss(
            f"{where}.label",
            f'CVAT will drop this shape: "{label}" is not among the function\'s labels ({known})',
            "label.unknown",
        )
        return None
    return c.specs.get(label) if c.specs is not None else None


def check_confidence(c: Collector, where: str, value: Any) -> None:
    """CVAT stores no confidence, so nothing here fails in CVAT; the harness's threshold check
    compares it with thresholds in [0, 1]. CVAT's own functions send ``str(score)``, which
    the harness reads as a number and so lets pass."""
    if value is None:
        return
    number: float | None = None
    if is_number(value):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value)
        except ValueError:
            number = None
        if number is not None and not math.isfinite(number):
            number = None
    if number is None:
        c.warn(
            where,
            f"{describe(value)} is not a number: CVAT ignores confidence, but the threshold"
            " check needs a number in [0, 1]",
        )
    elif not 0.0 <= number <= 1.0:
        c.warn(
            where,
            f"{number:g} is outside [0, 1]: CVAT ignores confidence, but the threshold check"
            " compares it with thresholds in [0, 1]",
        )


_TRUE = {1, "yes", "1", "true", "t", "y", "on"}
_FALSE = {0, "off", "f", "n", "false", "no", "0"}
"""rest_framework ``BooleanField.TRUE_VALUES`` / ``FALSE_VALUES`` (DRF 3.17.1, CVAT 2.73's),
tested after lower-casing text; ``True == 1`` and ``1.0 == 1``, so those match too."""
_DECIMAL_END = re.compile(r"\.0*\s*$")


def drf_boolean(value: Any) -> bool | None:
    """What ``serializers.BooleanField`` makes of a value, None where it fails."""
    key = value.lower() if isinstance(value, str) else value
    try:
        if key in _TRUE:
            return True
        if key in _FALSE:
            return False
    except TypeError:  # unhashable
        pass
    return None


def drf_integer(value: Any) -> int | None:
    """What ``serializers.IntegerField`` makes of a value: ``int(re_decimal.sub("",
    str(value)))``, so "3", 3.0 and "3.0" read as 3; None where it fails."""
    try:
        return int(_DECIMAL_END.sub("", str(value)))
    except (TypeError, ValueError):
        return None


def drf_float(value: Any) -> float | None:
    """What ``serializers.FloatField`` makes of a value: ``float(value)`` ("45", true)."""
    try:
        return float(value)
    except (TypeError, ValueError, OverflowError):
        return None


def _check_extras(c: Collector, where: str, item: Mapping[str, Any], type_: str | None) -> None:
    """views.py ``_parse_anno`` copies ``group_id``, ``outside`` and (for rectangles and
    ellipses) ``rotation`` into the shape, sets ``occluded`` to false and ``z_order`` to 0,
    and copies none of them into a tag; engine/serializers.py then reads them with DRF fields:
    ``AnnotationSerializer.group`` (IntegerField, min 0, null allowed),
    ``ShapeSerializer.outside`` (BooleanField) and ``.rotation`` (FloatField, 0..360)."""
    tag = type_ == "tag"
    if "group" in item and "group_id" not in item and item["group"] not in (None, 0):
        c.loss(
            f"{where}.group",
            f"CVAT will drop this group ({describe(item['group'])}): CVAT reads group_id,"
            " not group",
            "shape.group",
        )
    if item.get("group_id") is not None:
        g = item["group_id"]
        number = drf_integer(g)
        if tag:
            if g != 0:
                c.loss(
                    f"{where}.group_id",
                    "CVAT will drop this group_id: it keeps no group for tags",
                    "shape.group",
                )
        elif number is None or isinstance(g, bool) or number < 0:
            c.error(
                f"{where}.group_id",
                f"must be a non-negative integer, got {describe(g)}: CVAT's serializer refuses"
                " it and fails the request",
                "shape.group",
            )
        elif not isinstance(g, int):
            c.warn(
                f"{where}.group_id",
                f"{describe(g)} is read as {number}; send a whole number",
                "shape.group",
            )
    if item.get("occluded") and drf_boolean(item["occluded"]) is not False:
        c.loss(
            f"{where}.occluded",
            f"CVAT will drop this occluded ({describe(item['occluded'])}): it sets every"
            " shape a function answers to not occluded",
            "shape.occluded",
        )
    if item.get("z_order") not in (None, 0, "0") and not tag:
        c.loss(
            f"{where}.z_order",
            f"CVAT will drop this z_order ({describe(item['z_order'])}): it stores every"
            " shape a function answers at z_order 0",
            "shape.z_order",
        )
    if "rotation" in item:
        rotation = item["rotation"]
        angle = drf_float(rotation)
        if type_ not in ("rectangle", "ellipse"):
            if rotation not in (0, None) and type_ is not None:
                c.loss(
                    f"{where}.rotation",
                    f"CVAT will drop this rotation: it keeps rotation only for rectangles and"
                    f" ellipses, and this is {a(type_)}",
                    "shape.rotation",
                )
        elif angle is None or isinstance(rotation, list | dict):
            c.error(
                f"{where}.rotation",
                f"must be a number of degrees, got {describe(rotation)}: CVAT's serializer"
                " refuses it and fails the request",
                "shape.rotation",
            )
        elif not 0 <= angle <= 360 and not math.isnan(angle):
            c.error(
                f"{where}.rotation",
                f"{angle:g} is outside 0..360: CVAT's serializer refuses it and the job"
                " fails (give the angle modulo 360)",
                "shape.rotation",
            )
        elif not is_number(rotation):
            c.warn(
                f"{where}.rotation",
                f"{describe(rotation)} is read as {angle:g} degrees; send a number",
                "shape.rotation",
            )
    if "outside" in item and not tag:
        outside = item["outside"]
        read = drf_boolean(outside)
        if read is None:
            c.error(
                f"{where}.outside",
                f"must be true or false, got {describe(outside)}: CVAT's serializer refuses it",
                "shape.outside",
            )
        elif not isinstance(outside, int):  # true/false, and 0/1 as CVAT's mmpose sends
            c.warn(
                f"{where}.outside",
                f"should be true or false, got {describe(outside)} (read as {str(read).lower()})",
                "shape.outside",
            )
    elif "outside" in item and drf_boolean(item["outside"]) is not False and item["outside"]:
        c.loss(
            f"{where}.outside",
            "CVAT will drop this outside: it keeps no outside for tags",
            "shape.outside",
        )


def _check_label_type(
    c: Collector, where: str, item: Mapping[str, Any], type_: str, label: Any | None
) -> None:
    """views.py: ``elements`` are read through the label's sublabels (``mapping[label]
    ["sublabels"]``, KeyError for a label that is not a skeleton); ``parse_anno`` reads
    ``label["sublabels"]`` for a skeleton shape and keeps elements for skeletons only."""
    declared = getattr(label, "type", None)
    has_elements = "elements" in item
    if label is not None and declared != "skeleton":
        if has_elements:
            c.error(
                f"{where}.elements",
                f"label {label.name!r} is not a skeleton (no sublabels), so CVAT fails looking"
                " up the elements' sublabels",
                "skeleton.elements-on-non-skeleton",
            )
        elif type_ == "skeleton":
            c.error(
                f"{where}.type",
                f"a skeleton, but label {label.name!r} is declared {declared!r}: CVAT reads"
                " the label's sublabels and fails",
                "skeleton.label-type",
            )
    elif label is not None and type_ not in ("skeleton", "tag"):
        if has_elements:
            c.loss(
                f"{where}.elements",
                f"CVAT will drop these elements: it keeps elements only on a skeleton shape,"
                f" and this is {a(type_)}",
                "skeleton.elements-on-non-skeleton",
            )
        c.warn(
            f"{where}.type",
            f"{a(type_)} for skeleton label {label.name!r}: CVAT stores it as {a(type_)}",
            "label.type",
        )
    elif label is None and has_elements and type_ != "skeleton":
        c.loss(
            f"{where}.elements",
            f"CVAT will drop these elements: it keeps elements only on a skeleton, and this"
            f" is {a(type_)}",
            "skeleton.elements-on-non-skeleton",
        )
    if (
        label is not None
        and declared not in (None, "any", "unknown", "skeleton", type_)
        and {declared, type_} != {"mask", "polygon"}
        and type_ not in ("tag", "skeleton")
    ):
        c.warn(
            f"{where}.type",
            f"{a(type_)} for label {label.name!r}, declared {declared!r}: CVAT does not"
            " compare them and stores the shape as sent",
            "label.type",
        )


def check_shape(
    c: Collector,
    where: str,
    item: Any,
    labels: Sequence[str] | None,
    image_size: tuple[int, int] | None,
    *,
    element: bool = False,
) -> None:
    """One item of a detector's answer (or one skeleton element, ``element=True``). The label
    comes first: views.py ``invoke`` drops an item whose label is unknown before it reads
    anything else, so nothing else about such an item matters to CVAT."""
    if not isinstance(item, Mapping):
        c.error(where, f"a shape is a JSON object, got {describe(item)}")
        return
    label = None
    if not element:  # an element's label is judged against its skeleton's sublabels
        label = _check_label(c, where, item, labels)
        if _label_ends_it(c, where):
            return
    type_ = _check_type(c, where, item)
    check_confidence(c, f"{where}.confidence", item.get("confidence"))
    if "attributes" in item and not element:
        check_attributes(c, f"{where}.attributes", item["attributes"], label)
    _check_extras(c, where, item, type_)
    if type_ is None:
        return
    if not element:
        _check_label_type(c, where, item, type_, label)
    if element and not _check_element_type(c, where, item, type_):
        return
    if type_ == "tag":
        return
    if type_ == "skeleton":
        if label is None or getattr(label, "type", None) == "skeleton":
            _check_skeleton_points(c, f"{where}.points", item)
            _check_skeleton(c, where, item, image_size, label)
    elif type_ == "mask":
        if "mask" not in item:
            note = (
                ' ("points" is only the polygon used when CVAT converts masks to polygons)'
                if "points" in item
                else ""
            )
            c.error(
                f"{where}.mask",
                f"missing: a mask needs its box's bitmap followed by [xtl, ytl, xbr, ybr]{note}",
            )
        else:
            check_bitmap_mask(c, f"{where}.mask", item["mask"], image_size)
        if "points" in item:
            check_points(c, f"{where}.points", "polygon", item["points"], image_size)
    elif "points" not in item and (c.version >= SHAPE_COUNTS_SINCE or element):
        # an element's: parse_anno reads its points[0] for the skeleton's centre and fails
        c.error(f"{where}.points", f"missing: {a(type_)} needs points")
    elif "points" not in item:  # views.py parse_anno: anno.get("points", []), stored as such
        count_finding(c, f"{where}.points", f"missing: {a(type_)} needs points, got none")
    elif element and isinstance(item["points"], list | tuple) and len(item["points"]) < 2:
        c.error(
            f"{where}.points",
            f"{len(item['points'])} numbers: CVAT reads an element's points[0] and points[1]"
            " for the skeleton's centre and fails the request",
            "skeleton.elements",
        )
    else:
        check_points(c, f"{where}.points", type_, item["points"], image_size)


def _check_element_type(c: Collector, where: str, item: Mapping[str, Any], type_: str) -> bool:
    """views.py ``_parse_anno`` parses an element as a shape of the sublabel's labels: a tag
    element has no ``points`` for the centre (KeyError), a skeleton element no sublabels;
    any other type passes ``SubLabeledShapeSerializer`` with its own type's point count.
    False when nothing more about the element matters."""
    if type_ in ("tag", "skeleton"):
        c.error(
            f"{where}.type",
            f'a skeleton element is "points", got "{item["type"]}": CVAT reads'
            f" {'its points' if type_ == 'tag' else 'its sublabels'} and fails the request",
            "skeleton.element-type",
        )
        return False
    if type_ != "points":
        c.warn(
            f"{where}.type",
            f'a skeleton element is "points", got "{type_}": CVAT checks its points as'
            f" {a(type_)}'s and stores it so, and the UI draws an element as a point",
            "skeleton.element-type",
        )
    return True


def _check_skeleton_points(c: Collector, where: str, item: Mapping[str, Any]) -> None:
    """views.py ``_parse_anno`` copies ``anno.get("points", [])`` into a skeleton shape too;
    ``ShapeSerializer.validate`` takes none for a skeleton since 2.40. Before, they are stored,
    but CVAT reads every skeleton back with no points (dataset_manager/task.py
    ``JobAnnotation._init_shapes_from_db``: "skeletons themselves should not have points",
    ``db_shape['points'] = []``; 2.22.0 and 2.73.0 alike): measured on CVAT 2.22.0, the task
    holds the skeleton without them."""
    points = item.get("points", [])
    if isinstance(points, list | tuple | str | Mapping) and len(points) == 0:
        return
    numbers = isinstance(points, list | tuple) and all(is_number(v) for v in points)
    if c.version >= SHAPE_COUNTS_SINCE or not numbers:
        c.error(
            where,
            f"a skeleton has no points of its own (its elements have them), got"
            f" {describe(points)}: CVAT's serializer refuses them and fails the request;"
            " leave points out",
            "skeleton.points",
        )
    else:
        c.loss(
            where,
            f"CVAT will drop these points: a skeleton has no points of its own, got"
            f" {describe(points)}, and CVAT {c.cvat_version} reads every skeleton back without"
            " them; leave points out",
            "skeleton.points",
        )


def _check_skeleton(
    c: Collector,
    where: str,
    item: Mapping[str, Any],
    image_size: tuple[int, int] | None,
    label: Any | None,
) -> None:
    """views.py ``invoke`` keeps only elements whose label is a sublabel; ``parse_anno`` reads
    ``anno["elements"]``, takes ``points[0], points[1]`` of each kept element, adds every
    missing sublabel as an outside point at their centre, and drops the skeleton when all of
    its elements are outside."""
    if "elements" not in item:
        c.error(
            f"{where}.elements",
            "missing: CVAT reads a skeleton's elements and fails the job",
            "skeleton.elements",
        )
        return
    elements = item["elements"]
    if not isinstance(elements, list):
        c.error(
            f"{where}.elements",
            f"must be a list of points shapes, got {describe(elements)}",
            "skeleton.elements",
        )
        return
    skeleton = str(getattr(label, "name", ""))
    sublabels = {s.name: s for s in getattr(label, "sublabels", ())} if label else None
    first: dict[Any, tuple[int, Mapping[str, Any]]] = {}
    for j, element in enumerate(elements):
        at = f"{where}.elements[{j}]"
        if not isinstance(element, Mapping) or "label" not in element:
            c.error(
                at if not isinstance(element, Mapping) else f"{at}.label",
                "CVAT reads every element's label and fails the job"
                + ("" if isinstance(element, Mapping) else f"; got {describe(element)}"),
                "skeleton.elements",
            )
            continue
        name = element["label"]
        if isinstance(name, list | dict):
            c.error(
                f"{at}.label",
                f"must be a sublabel's name, got {describe(name)}: CVAT looks it up in a dict"
                " and fails the request",
                "skeleton.elements",
            )
            continue
        if sublabels is not None and name not in sublabels:
            known = ", ".join(sublabels) or "none declared"
            c.loss(
                f"{at}.label",
                f"CVAT will drop this element: {name!r} is not a sublabel of skeleton"
                f" {skeleton!r} ({known})",
                "skeleton.unknown-element",
            )
            continue
        if name in first:
            c.loss(
                f"{at}.label",
                f"CVAT will drop this element: elements[{first[name][0]}] is already"
                f" {name!r}, and CVAT keeps the first element of each sublabel",
                "skeleton.duplicate-element",
            )
        else:
            first[name] = (j, element)
        check_shape(c, at, element, None, image_size, element=True)
        if "attributes" in element:
            sublabel = sublabels[name] if sublabels is not None else None
            check_attributes(c, f"{at}.attributes", element["attributes"], sublabel)
    kept = [e for _, e in first.values()]
    if sublabels is not None:
        missing = [n for n in sublabels if n not in first]
        if missing and kept:
            c.warn(
                f"{where}.elements",
                f"no {', '.join(repr(m) for m in missing)}: CVAT adds each missing element as"
                " an outside point at the centre of the others",
                "skeleton.missing-element",
            )
    # views.py tests `all(element["outside"] ...)` on the values as sent, before the
    # serializer reads them as booleans: the text "false" counts as outside there
    if not kept or all(e.get("outside", False) for e in kept):
        why = "no element is left" if not kept else "every element is outside"
        texts = [
            e["outside"] for e in kept if drf_boolean(e.get("outside")) is False and e["outside"]
        ]
        hint = (
            f" (CVAT tests outside as sent, so {describe(texts[0])} counts as outside there;"
            " send false)"
            if texts
            else ""
        )
        c.loss(
            f"{where}.elements",
            f"CVAT will drop this shape: {why}, and CVAT drops a skeleton whose every"
            f" element is outside{hint}",
            "skeleton.all-outside",
        )


def _check_string_answer(c: Collector, body: str) -> None:
    """views.py ``invoke`` iterates the parsed answer: a JSON string's characters."""
    if body == "":
        c.warn(
            "response",
            'an empty JSON string (""): CVAT iterates it as no shapes; answer [] instead',
            "response.form",
        )
        return
    hint = ""
    try:
        inner = json.loads(body)
    except ValueError:
        inner = None
    if isinstance(inner, list | dict):
        hint = (
            ": a JSON document encoded twice (json.dumps of a string); send the list itself,"
            ' e.g. context.Response(body=json.dumps(results), content_type="application/json")'
        )
    c.error(
        "response",
        f"a JSON string, not a list of shapes: CVAT iterates its characters and fails{hint}",
        "response.form",
    )


def validate_detector(
    c: Collector,
    body: Any,
    labels: Sequence[str] | None,
    image_size: tuple[int, int] | None,
    request: Mapping[str, Any] | None,
) -> None:
    if isinstance(body, Mapping) and not body:
        c.warn(
            "response",
            "an empty object: CVAT iterates it as no shapes; answer [] instead",
            "response.form",
        )
        return
    if isinstance(body, Mapping):
        if any(k in body for k in ("label", "type", "points", "mask")):
            c.error(
                "response",
                "a single shape, not a list of shapes. A handler that returns a bare list has"
                " only its first item sent since Nuclio 1.13.3 (the list is taken as a batch):"
                " return context.Response(body=json.dumps(results),"
                ' content_type="application/json")',
            )
        else:
            c.error("response", f"a detector answers a JSON list of shapes, got {describe(body)}")
        return
    if isinstance(body, str):
        _check_string_answer(c, body)
        return
    if not isinstance(body, list):
        c.error(
            "response",
            f"a detector answers a JSON list of shapes, got {describe(body)}",
            "response.form",
        )
        return
    for i, item in enumerate(body):
        check_shape(c, f"[{i}]", item, labels, image_size)
